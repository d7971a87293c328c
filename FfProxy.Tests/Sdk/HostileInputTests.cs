using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using FfProxy.Core.Domain;
using FfProxy.Core.Sdk;
using FfProxy.Gateway;
using FfProxy.Tests.Fixtures;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace FfProxy.Tests.Sdk;

/// <summary>
/// Issue 11, hostile input: every class of bad input gets a 4xx (or is served), never a 5xx, on a single Primary and
/// through the Gateway, and no secret reaches the logs.
/// </summary>
public sealed class HostileInputTests
{
    private const string Env = "8d9c2b3a-5e4f-4a1b-9c8d-7e6f5a4b3c2d";
    private const string ServerKey = "5f5c3a8e-0c6b-4d3e-9b1a-7c2d4e6f8a10";
    private const string ClientKey = "b7e2c4d6-1a3f-4e5b-8c9d-0f1e2d3c4b5a";

    [Fact]
    public async Task A_single_primary_answers_every_hostile_request_without_a_5xx_and_logs_no_secret()
    {
        var logs = new CapturedLogs();
        await using var primary = PrimaryHost.StartOffline(logs: logs);
        await SendHostileRequestsAsync(primary.BaseAddress, await primary.AuthenticateAsync(ServerKey), direct: true);

        // Oversized targets were not kept; the in-process cache holds only bounded entries.
        var cache = primary.Services.GetRequiredService<TargetCache>();
        Assert.InRange(cache.Bytes, 0, TargetCache.MaxBytes);
        AssertNoSecret(logs);
    }

    [Fact]
    public async Task Through_the_gateway_hostile_requests_get_4xx_not_502()
    {
        var logs = new CapturedLogs();
        await using var primary = PrimaryHost.StartOffline(logs: logs);
        await using var gateway = PrimaryHost.StartGateway(new Dictionary<string, string>
        {
            ["UPSTREAMS"] = primary.BaseAddress.ToString().TrimEnd('/'),
            ["FfProxy:Gateway:HealthCheckInterval"] = "00:00:00.500",
        });
        await SendHostileRequestsAsync(gateway.BaseAddress, await gateway.AuthenticateAsync(ServerKey), direct: false);

        // A hostile header never takes the upstream out of the Gateway's view.
        Assert.Equal(1, (await gateway.Client.GetFromJsonAsync<JsonElement>(SdkRouting.GatewayHealthPath)).GetProperty("healthyUpstreams").GetInt32());
        AssertNoSecret(logs);
    }

    [Fact]
    public void The_target_cache_stays_bounded_by_count_and_bytes_whatever_clients_send()
    {
        var cache = new TargetCache(new FakeTimeProvider());
        for (var i = 0; i < TargetCache.MaxEntries + 5_000; i++)
        {
            cache.Set(Env, "t" + i.ToString(CultureInfo.InvariantCulture), null);
        }

        Assert.Equal(TargetCache.MaxEntries, cache.Count);
        Assert.True(cache.TryGet(Env, "t" + (TargetCache.MaxEntries + 4_999).ToString(CultureInfo.InvariantCulture), out _), "the newest entry is kept");
        Assert.False(cache.TryGet(Env, "t0", out _), "the least recently used entry went first");

        // 90 distinct targets of ~1.9 MB each (the 3.9 MB posts) cannot pass the byte bound.
        var big = JsonSerializer.SerializeToElement(new string('x', 950_000));
        for (var i = 0; i < 90; i++)
        {
            cache.Set(Env, "big" + i.ToString(CultureInfo.InvariantCulture), new Target { Identifier = "big" + i, Attributes = new() { ["blob"] = big } });
            Assert.InRange(cache.Bytes, 0, TargetCache.MaxBytes);
        }

        Assert.True(cache.TryGet(Env, "big89", out var kept) && kept is not null, "the newest big target is kept");
    }

    private static async Task SendHostileRequestsAsync(Uri baseAddress, string token, bool direct)
    {
        var statuses = new List<(string What, int Status)>();
        var auth = "Authorization: Bearer " + token + "\r\n";
        var configs = $"/client/env/{Env}/feature-configs";

        // X-Request-Id with a control character, DEL and non-ASCII bytes: answered, and never echoed.
        foreach (var (what, value) in new[] { ("control", "a\u0001b"u8.ToArray()), ("del", "a\u007fb"u8.ToArray()), ("non-ascii", "a\u00c3\u00a9b"u8.ToArray()), ("ctl-only", new byte[] { 0x1b }) })
        {
            var head = Encoding.ASCII.GetBytes($"GET {configs} HTTP/1.1\r\nHost: x\r\n{auth}X-Request-Id: ");
            var raw = Concat(head, value, "\r\nConnection: close\r\n\r\n"u8.ToArray());
            var (status, headers) = await RawAsync(baseAddress, raw);
            statuses.Add(("X-Request-Id " + what, status));
            Assert.Equal(200, status);
            var echoed = headers.Split("\r\n").FirstOrDefault(l => l.StartsWith("X-Request-Id:", StringComparison.OrdinalIgnoreCase));
            Assert.NotNull(echoed);
            Assert.True(Guid.TryParse(echoed["X-Request-Id:".Length..].Trim(), out _), "a fresh request id replaces " + what + ": " + echoed);
        }

        // A safe one is echoed.
        var (safeStatus, safeHeaders) = await RawAsync(baseAddress, Encoding.ASCII.GetBytes($"GET {configs} HTTP/1.1\r\nHost: x\r\n{auth}X-Request-Id: req-123_ok\r\nConnection: close\r\n\r\n"));
        Assert.Equal(200, safeStatus);
        Assert.Contains("X-Request-Id: req-123_ok", safeHeaders, StringComparison.OrdinalIgnoreCase);

        // A chunked body whose chunk size overflows, and one that is not hex.
        foreach (var chunk in new[] { "FFFFFFFFFFFFFFFFFFFF", "zz" })
        {
            var (status, _) = await RawAsync(baseAddress, Encoding.ASCII.GetBytes(
                $"POST /client/auth HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n{chunk}\r\nabc\r\n0\r\n\r\n"));
            statuses.Add(("chunk " + chunk, status));
            Assert.Equal(400, status);
        }

        // The largest Harness-Target the JS client SDK sends (262,143 base64 characters) is served.
        var attributes = new string('a', 196_000);
        var targetJson = JsonSerializer.Serialize(new { identifier = "big-header", name = "Big", attributes = new { blob = attributes } });
        var header = Convert.ToBase64String(Encoding.UTF8.GetBytes(targetJson));
        Assert.InRange(header.Length, 250_000, 262_143);
        var (headerStatus, _) = await RawAsync(baseAddress, Encoding.ASCII.GetBytes(
            $"GET /client/env/{Env}/target/big-header/evaluations HTTP/1.1\r\nHost: x\r\n{auth}Harness-Target: {header}\r\nConnection: close\r\n\r\n"));
        Assert.Equal(200, headerStatus);

        // 300 KB of Harness-Target (over what TargetHeader decodes): still no 431 or 5xx.
        var (bigHeaderStatus, _) = await RawAsync(baseAddress, Encoding.ASCII.GetBytes(
            $"GET /client/env/{Env}/target/t1/evaluations HTTP/1.1\r\nHost: x\r\n{auth}Harness-Target: {new string('A', 300_000)}\r\nConnection: close\r\n\r\n"));
        statuses.Add(("300 KB Harness-Target", bigHeaderStatus));
        Assert.Equal(200, bigHeaderStatus);

        // Headers beyond every limit: Kestrel's 431, never a 5xx.
        var (hugeStatus, _) = await RawAsync(baseAddress, Encoding.ASCII.GetBytes(
            $"GET {configs} HTTP/1.1\r\nHost: x\r\n{auth}X-Huge: {new string('A', 500_000)}\r\nConnection: close\r\n\r\n"));
        Assert.Equal(431, hugeStatus);

        // Huge and distinct targets at /client/auth: authenticated, not kept.
        using var http = new HttpClient { BaseAddress = baseAddress, Timeout = TimeSpan.FromSeconds(60) };
        var blob = new string('x', 1_000_000);
        for (var i = 0; i < 5; i++)
        {
            using var response = await http.PostAsJsonAsync("/client/auth", new { apiKey = ClientKey, target = new { identifier = "huge-" + i, name = "Huge", attributes = new { blob } } });
            statuses.Add(("huge target", (int)response.StatusCode));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        for (var i = 0; i < 200; i++)
        {
            using var response = await http.PostAsJsonAsync("/client/auth", new { apiKey = ClientKey, target = new { identifier = "distinct-" + i, name = "D" } });
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        // Metric counts: negative is a 400 with a message; overflowing 32 bits is a 400 (not a valid count).
        http.DefaultRequestHeaders.Authorization = new("Bearer", token);
        using (var negative = await http.PostAsync($"/metrics/{Env}", Json("""{"metricsData":[{"timestamp":1,"count":-5,"metricsType":"FFMETRICS","attributes":[]}],"targetData":[]}""")))
        {
            Assert.Equal(HttpStatusCode.BadRequest, negative.StatusCode);
            Assert.Contains("must not be negative", await negative.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        using (var overflow = await http.PostAsync($"/metrics/{Env}", Json("""{"metricsData":[{"timestamp":1,"count":4294967296,"metricsType":"FFMETRICS","attributes":[]}],"targetData":[]}""")))
        {
            Assert.Equal(HttpStatusCode.BadRequest, overflow.StatusCode);
        }

        using (var max = await http.PostAsync($"/metrics/{Env}", Json("""{"metricsData":[{"timestamp":1,"count":2147483647,"metricsType":"FFMETRICS","attributes":[]}],"targetData":[]}""")))
        {
            Assert.Equal(HttpStatusCode.OK, max.StatusCode);
        }

        // Non-ASCII in another header: the Gateway refuses it with 400 (its client cannot forward it); the
        // Primary itself serves it.
        var (otherStatus, _) = await RawAsync(baseAddress, Concat(Encoding.ASCII.GetBytes($"GET {configs} HTTP/1.1\r\nHost: x\r\n{auth}X-Note: "), "caf\u00c3\u00a9"u8.ToArray(), "\r\nConnection: close\r\n\r\n"u8.ToArray()));
        Assert.Equal(direct ? 200 : 400, otherStatus);

        Assert.DoesNotContain(statuses, s => s.Status >= 500);
    }

    private static void AssertNoSecret(CapturedLogs logs)
    {
        var all = logs.All;
        Assert.NotEmpty(logs.Lines);
        foreach (var secret in new[] { ServerKey, ClientKey, PrimaryHost.AuthSecret })
        {
            Assert.DoesNotContain(secret, all, StringComparison.Ordinal);
        }
    }

    private static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");

    private static byte[] Concat(params byte[][] parts) => [.. parts.SelectMany(p => p)];

    /// <summary>Sends bytes HttpClient would refuse to send; returns the status code and the response head.</summary>
    private static async Task<(int Status, string Headers)> RawAsync(Uri baseAddress, byte[] request)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(baseAddress.Host, baseAddress.Port);
        var stream = tcp.GetStream();
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            await stream.WriteAsync(request, cancel.Token);
        }
        catch (IOException)
        {
            // The server may answer and close before reading everything (431); the answer is still there.
        }

        var received = new MemoryStream();
        var buffer = new byte[16384];
        int read;
        try
        {
            while ((read = await stream.ReadAsync(buffer, cancel.Token)) > 0)
            {
                received.Write(buffer, 0, read);
            }
        }
        catch (IOException) when (received.Length > 0)
        {
        }

        var text = Encoding.Latin1.GetString(received.ToArray());
        var headEnd = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        var head = headEnd < 0 ? text : text[..headEnd];
        Assert.StartsWith("HTTP/1.1 ", head, StringComparison.Ordinal);
        return (int.Parse(head.AsSpan(9, 3), CultureInfo.InvariantCulture), head);
    }
}

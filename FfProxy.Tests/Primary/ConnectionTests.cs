using System.Net;
using System.Text.Json;
using FfProxy.Tests.Fakes;
using FfProxy.Tests.Fixtures;

namespace FfProxy.Tests.Primary;

/// <summary>The stream state machine (spec §3.5), smart cleanup after downtime (§4.5) and health (§2.12).</summary>
public sealed class ConnectionTests(RedisServer redis) : IClassFixture<RedisServer>
{
    private const string Env = OnlineProxy.Env;
    private static readonly TimeSpan Within = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task A_lost_stream_polls_closes_sdk_streams_tells_replicas_and_reconnects_with_a_final_sync()
    {
        await using var proxy = await OnlineProxy.StartAsync(redis);
        await using var sdkStream = await EventTests.ConnectAsync(proxy);

        proxy.Saas.RefuseStreams = true;
        proxy.Saas.DropStreams();

        await proxy.WaitForStreamStateAsync("DISCONNECTED", Within);
        await sdkStream.Completion.WaitAsync(Within);
        var token = await proxy.Primary.AuthenticateAsync(OnlineProxy.ServerKey);
        var refused = await Assert.ThrowsAsync<HttpRequestException>(() => SseClient.ConnectAsync(proxy.Primary.BaseAddress, token, OnlineProxy.ServerKey));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
        Assert.Contains("DISCONNECTED", (await proxy.RedisGetAsync("ffproxy_saas_stream_health"))!, StringComparison.Ordinal);
        Assert.Contains(await proxy.StreamEntriesAsync("proxy:primary_to_replica_control_events"),
            e => e == """{"event":"stream_action","domain":"DISCONNECTED","identifier":"","version":0,"environment":"","apiKey":""}""");

        // A change while disconnected arrives by polling (no event is sent for it).
        proxy.Saas.SetFlag(Env, FakeSaas.Flag("dark_mode", serve: "false", environment: Env), silent: true);
        await Eventually.TrueAsync(async () => await proxy.EvaluateAsync("dark_mode") == "false", Within, "a poll picked up the change");

        proxy.Saas.SetFlag(Env, FakeSaas.Flag("while_down", environment: Env), silent: true);
        proxy.Saas.RefuseStreams = false;
        await proxy.WaitForStreamStateAsync("CONNECTED", Within);
        Assert.NotNull(await proxy.RedisGetAsync($"env-{Env}-feature-config-while_down"));
        Assert.Contains(await proxy.StreamEntriesAsync("proxy:primary_to_replica_control_events"), e => e.Contains("\"CONNECTED\"", StringComparison.Ordinal));
        await using var again = await EventTests.ConnectAsync(proxy);
        proxy.Saas.SetFlag(Env, FakeSaas.Flag("dark_mode", serve: "true", environment: Env));
        Assert.Equal("dark_mode", (await again.NextEventAsync(Within)).GetProperty("identifier").GetString());
    }

    [Fact]
    public async Task A_restart_after_downtime_cleans_up_what_saas_no_longer_has()
    {
        const string gone = "33333333-3333-4333-8333-333333333333";
        await using var proxy = await OnlineProxy.StartAsync(redis, seed: (saas, key) =>
        {
            saas.AddEnvironment(gone, ["gone-key"], silent: true);
            saas.SetFlag(gone, FakeSaas.Flag("g", environment: gone), silent: true);
            saas.SetFlag(Env, FakeSaas.Flag("doomed", environment: Env), silent: true);
            saas.SetProxyKeyEnvironments(key, Env, gone);
        });
        Assert.NotNull(await proxy.RedisGetAsync($"env-{gone}-feature-config-g"));
        await proxy.StopPrimaryAsync();

        // While the proxy is down: an environment and a flag disappear, a flag changes, another key's data lingers.
        proxy.Saas.RemoveEnvironment(gone, silent: true);
        proxy.Saas.DeleteFlag(Env, "doomed", silent: true);
        proxy.Saas.SetFlag(Env, FakeSaas.Flag("dark_mode", serve: "false", environment: Env), silent: true);
        await using (var connection = await redis.ConnectAsync())
        {
            var db = connection.GetDatabase();
            await db.StringSetAsync("key-other-proxy-key-inventory", """{"env-foreign-feature-configs":0,"auth-key-foreign":0}""");
            await db.StringSetAsync("env-foreign-feature-configs", "[]");
            await db.StringSetAsync("auth-key-foreign", "\"foreign\"");
        }

        await proxy.RestartPrimaryAsync();
        await proxy.WaitForStreamStateAsync("CONNECTED", Within);

        Assert.Empty(await proxy.RedisKeysAsync($"env-{gone}-*"));
        Assert.Null(await proxy.RedisGetAsync($"auth-key-{FakeSaas.Hash("gone-key")}"));
        Assert.Null(await proxy.RedisGetAsync($"env-{Env}-feature-config-doomed"));
        Assert.Null(await proxy.RedisGetAsync("key-other-proxy-key-inventory"));
        Assert.Null(await proxy.RedisGetAsync("env-foreign-feature-configs"));
        Assert.Null(await proxy.RedisGetAsync("auth-key-foreign"));
        Assert.Equal("false", await proxy.EvaluateAsync("dark_mode"));

        // Replicas hear exactly what changed: a delete for the removed flag, a patch for the one whose version went up.
        var events = (await proxy.StreamEntriesAsync("proxy:sse_events")).Select(e => JsonDocument.Parse(e).RootElement).ToList();
        Assert.Contains(events, e => e.GetProperty("event").GetString() == "delete" && e.GetProperty("identifier").GetString() == "doomed");
        Assert.Contains(events, e => e.GetProperty("event").GetString() == "patch" && e.GetProperty("identifier").GetString() == "dark_mode");
        Assert.Contains(events, e => e.GetProperty("event").GetString() == "environmentsRemoved" && e.GetRawText().Contains(gone, StringComparison.Ordinal));
        Assert.DoesNotContain(events.Skip(events.FindIndex(e => e.GetProperty("identifier").GetString() == "doomed")),
            e => e.GetProperty("event").GetString() == "patch" && e.GetProperty("identifier").GetString() == "beta");
    }

    [Fact]
    public async Task A_failed_first_sync_answers_500_keeps_trying_and_recovers()
    {
        await using var saas = await FakeSaas.StartAsync();
        await redis.FlushAsync();
        saas.AddEnvironment(Env, [OnlineProxy.ServerKey], silent: true);
        saas.SetFlag(Env, FakeSaas.Flag("dark_mode", environment: Env), silent: true);
        var key = saas.CreateProxyKey(Env);
        saas.FailConfigWith = HttpStatusCode.InternalServerError;
        saas.RefuseStreams = true;

        await using var primary = OnlineProxy.StartPrimary(saas, redis, key, null, null);

        using (var health = await primary.Client.GetAsync("/health"))
        {
            Assert.Equal(HttpStatusCode.InternalServerError, health.StatusCode);
            Assert.Equal("{\"error\":\"internal error\"}\n", await health.Content.ReadAsStringAsync());
        }

        saas.FailConfigWith = null;
        saas.RefuseStreams = false;
        await Eventually.TrueAsync(async () => (await primary.Client.GetAsync("/health")).StatusCode == HttpStatusCode.OK, Within, "a later sync succeeded");
        using var client = await primary.AuthenticatedClientAsync(OnlineProxy.ServerKey);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync($"/client/env/{Env}/feature-configs")).StatusCode);
    }

    [Fact]
    public async Task A_stream_that_connects_after_a_failed_first_sync_brings_the_configuration()
    {
        await using var saas = await FakeSaas.StartAsync();
        await redis.FlushAsync();
        saas.AddEnvironment(Env, [OnlineProxy.ServerKey], silent: true);
        saas.SetFlag(Env, FakeSaas.Flag("dark_mode", environment: Env), silent: true);
        var key = saas.CreateProxyKey(Env);

        // The start-up sync's request and its three retries fail; the stream is up at once, and /proxy/config
        // answers again by the time it connects. Nothing polls while the stream stays up, so the sync on connection
        // is the only way the configuration arrives.
        saas.ConfigFailuresRemaining = 4;
        await using var primary = OnlineProxy.StartPrimary(saas, redis, key, null, null);

        await Eventually.TrueAsync(async () => (await primary.Client.GetAsync("/health")).StatusCode == HttpStatusCode.OK, Within, "the configuration arrived");
        Assert.Equal(0, saas.ConfigFailuresRemaining);
        using var client = await primary.AuthenticatedClientAsync(OnlineProxy.ServerKey);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync($"/client/env/{Env}/feature-configs")).StatusCode);
    }

    [Fact]
    public async Task Secrets_never_reach_the_log()
    {
        await using var proxy = await OnlineProxy.StartAsync(redis);
        await using (var stream = await EventTests.ConnectAsync(proxy))
        {
            proxy.Saas.SetFlag(Env, FakeSaas.Flag("dark_mode", serve: "false", environment: Env));
            await stream.NextEventAsync(Within);
        }

        proxy.Saas.DropStreams();
        await proxy.WaitForStreamStateAsync("CONNECTED", Within);
        using var bad = await proxy.Primary.Client.PostAsync("/client/auth", new StringContent("""{"apiKey":"not-a-known-key"}""", System.Text.Encoding.UTF8, "application/json"));

        var log = proxy.Logs.All;
        Assert.Contains("SaaS stream", log, StringComparison.Ordinal); // the capture works
        Assert.DoesNotContain(proxy.ProxyKey, log, StringComparison.Ordinal);
        Assert.DoesNotContain(OnlineProxy.ServerKey, log, StringComparison.Ordinal);
        Assert.DoesNotContain("not-a-known-key", log, StringComparison.Ordinal);
        Assert.DoesNotContain(PrimaryHost.AuthSecret, log, StringComparison.Ordinal);
    }
}

using System.Net.Http.Json;
using System.Text.Json;
using FfProxy.Tests.Fakes;
using FfProxy.Tests.Fixtures;
using StackExchange.Redis;

namespace FfProxy.Tests.Fixtures;

/// <summary>
/// An online Primary wired to a <see cref="FakeSaas"/> and a real redis-server, with the SaaS timings shortened
/// (stream retry, retry queue) so reconnect cycles take a second, not a minute.
/// </summary>
public sealed class OnlineProxy : IAsyncDisposable
{
    public const string Env = "11111111-1111-4111-8111-111111111111";
    public const string ServerKey = "server-sdk-key-1";
    public const string ClientKey = "client-sdk-key-1";

    private OnlineProxy(FakeSaas saas, RedisServer redis, string proxyKey, PrimaryHost primary, CapturedLogs logs)
    {
        Saas = saas;
        Redis = redis;
        ProxyKey = proxyKey;
        Primary = primary;
        Logs = logs;
    }

    public FakeSaas Saas { get; }

    public RedisServer Redis { get; }

    public string ProxyKey { get; }

    public PrimaryHost Primary { get; private set; }

    public CapturedLogs Logs { get; }

    /// <summary>A SaaS with one environment (two SDK keys, a flag, a group), a key granting it, and a Primary on top.</summary>
    public static async Task<OnlineProxy> StartAsync(RedisServer redis, IDictionary<string, string>? settings = null, Action<FakeSaas, string>? seed = null)
    {
        var (saas, proxyKey) = await StartSaasAsync(redis);
        seed?.Invoke(saas, proxyKey);
        var logs = new CapturedLogs();
        var primary = StartPrimary(saas, redis, proxyKey, settings, logs);
        var proxy = new OnlineProxy(saas, redis, proxyKey, primary, logs);
        await saas.WaitForStreamAsync(TimeSpan.FromSeconds(10));
        await proxy.WaitForStreamStateAsync("CONNECTED");
        return proxy;
    }

    /// <summary>
    /// Starts like <see cref="StartAsync"/> and waits until the Primary's stream:sdk_metrics reader polls. It starts from
    /// <c>$</c> (no position stored yet), so an entry added before it took its position would be skipped; its XREAD
    /// calls show it has. Only that reader XREADs in a Primary: start Replicas (which XREAD too) after this.
    /// </summary>
    public static async Task<OnlineProxy> StartReadingMetricsStreamAsync(RedisServer redis, IDictionary<string, string>? settings = null)
    {
        var before = await redis.CallsAsync("xread");
        var proxy = await StartAsync(redis, settings);
        try
        {
            await Eventually.TrueAsync(async () => await redis.CallsAsync("xread") > before, TimeSpan.FromSeconds(10), "the Primary reads stream:sdk_metrics");
            return proxy;
        }
        catch
        {
            await proxy.DisposeAsync();
            throw;
        }
    }

    /// <summary>Empties Redis and starts a SaaS with one environment (two SDK keys, a flag, a group) and a key granting it.</summary>
    public static async Task<(FakeSaas Saas, string ProxyKey)> StartSaasAsync(RedisServer redis)
    {
        await redis.FlushAsync();
        var saas = await FakeSaas.StartAsync();
        saas.AddEnvironment(Env, [ServerKey, ClientKey], silent: true);
        saas.SetFlag(Env, FakeSaas.Flag("dark_mode", serve: "true", environment: Env), silent: true);
        saas.SetSegment(Env, FakeSaas.Segment("beta", ["u1"], environment: Env), silent: true);
        return (saas, saas.CreateProxyKey(Env));
    }

    public static PrimaryHost StartPrimary(FakeSaas saas, RedisServer redis, string proxyKey, IDictionary<string, string>? settings, CapturedLogs? logs) =>
        PrimaryHost.Start(PrimarySettings(saas, redis, proxyKey, settings), logs: logs);

    /// <summary>The settings of an online Primary on <paramref name="saas"/> and <paramref name="redis"/>, SaaS timings shortened.</summary>
    public static Dictionary<string, string> PrimarySettings(FakeSaas saas, RedisServer redis, string proxyKey, IDictionary<string, string>? settings)
    {
        var all = new Dictionary<string, string>
        {
            ["PROXY_KEY"] = proxyKey,
            ["CLIENT_SERVICE"] = saas.ClientService.ToString(),
            ["METRIC_SERVICE"] = saas.MetricService.ToString(),
            ["REDIS_ADDRESS"] = redis.Address,
            ["AUTH_SECRET"] = PrimaryHost.AuthSecret,
            ["HEARTBEAT_INTERVAL"] = "0",
            ["FfProxy:Saas:StreamRetry"] = "00:00:00.500",
            ["FfProxy:Saas:RetryFirstDelay"] = "00:00:00.100",
            ["FfProxy:Saas:RetryMaxDelay"] = "00:00:00.400",
            ["FfProxy:Saas:StreamIdleTimeout"] = "00:00:05",
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string>())
        {
            all[key] = value;
        }

        return all;
    }

    /// <summary>Stops the Primary and starts a new one on the same SaaS and Redis.</summary>
    public async Task RestartPrimaryAsync(IDictionary<string, string>? settings = null)
    {
        await Primary.DisposeAsync();
        Primary = StartPrimary(Saas, Redis, ProxyKey, settings, Logs);
    }

    public async Task StopPrimaryAsync() => await Primary.DisposeAsync();

    public async Task<JsonElement> HealthAsync()
    {
        using var response = await Primary.Client.GetAsync("/health");
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();
    }

    public Task WaitForStreamStateAsync(string state, TimeSpan? within = null) =>
        Eventually.TrueAsync(async () => (await HealthAsync()).GetProperty("streamStatus").GetProperty("state").GetString() == state,
            within ?? TimeSpan.FromSeconds(10), $"the Primary reports streamStatus {state}");

    public async Task<string?> RedisGetAsync(string key)
    {
        await using var connection = await Redis.ConnectAsync();
        return await connection.GetDatabase().StringGetAsync(key);
    }

    public async Task<List<string>> RedisKeysAsync(string pattern = "*")
    {
        await using var connection = await Redis.ConnectAsync();
        return [.. connection.GetServer(Redis.Address).Keys(pattern: pattern).Select(k => k.ToString()).Order(StringComparer.Ordinal)];
    }

    public async Task<List<string>> StreamEntriesAsync(string stream)
    {
        await using var connection = await Redis.ConnectAsync();
        return [.. (await connection.GetDatabase().StreamRangeAsync(stream)).Select(e => (string)e["event"]!)];
    }

    /// <summary>Evaluates <paramref name="flag"/> for a target through the Primary with a fresh token of the server key.</summary>
    public async Task<string> EvaluateAsync(string flag, string target = "t1")
    {
        using var client = await Primary.AuthenticatedClientAsync(ServerKey);
        var evaluation = await client.GetFromJsonAsync<JsonElement>($"/client/env/{Env}/target/{target}/evaluations/{flag}");
        return evaluation.GetProperty("value").GetString()!;
    }

    public async ValueTask DisposeAsync()
    {
        await Primary.DisposeAsync();
        await Saas.DisposeAsync();
    }
}

using System.Net;
using System.Text.Json;
using FfProxy.Tests.Fakes;
using FfProxy.Tests.Fixtures;

namespace FfProxy.Tests.Primary;

/// <summary>Start-up sync into Redis (spec §3.2, §3.3, §4.2, §4.5) and the requests it makes (§3.1).</summary>
public sealed class SyncTests(RedisServer redis) : IClassFixture<RedisServer>
{
    private const string Env = OnlineProxy.Env;
    private static readonly TimeSpan Within = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task Start_up_fills_redis_with_the_spec_keys_and_serves_sdks()
    {
        await using var proxy = await OnlineProxy.StartAsync(redis);

        var keys = await proxy.RedisKeysAsync();
        var serverHash = FakeSaas.Hash(OnlineProxy.ServerKey);
        Assert.Contains($"auth-key-{serverHash}", keys);
        Assert.Contains($"auth-key-{FakeSaas.Hash(OnlineProxy.ClientKey)}", keys);
        foreach (var key in (string[])[$"env-{Env}-api-configs", $"env-{Env}-feature-configs", $"env-{Env}-feature-configs-latest",
                     $"env-{Env}-feature-config-dark_mode", $"env-{Env}-segments", $"env-{Env}-segments-latest", $"env-{Env}-segment-beta",
                     $"key-{proxy.ProxyKey}-inventory", "ffproxy_saas_stream_health"])
        {
            Assert.Contains(key, keys);
        }

        Assert.Equal($"\"{Env}\"", await proxy.RedisGetAsync($"auth-key-{serverHash}"));
        var inventory = JsonDocument.Parse((await proxy.RedisGetAsync($"key-{proxy.ProxyKey}-inventory"))!).RootElement;
        Assert.Equal(1, inventory.GetProperty($"env-{Env}-feature-config-dark_mode").GetInt64());
        Assert.Equal(0, inventory.GetProperty($"env-{Env}-feature-configs").GetInt64());
        var health = JsonDocument.Parse((await proxy.RedisGetAsync("ffproxy_saas_stream_health"))!).RootElement;
        Assert.Equal("CONNECTED", health.GetProperty("state").GetString());
        Assert.True(health.GetProperty("since").GetInt64() > 1_700_000_000_000);

        var status = await proxy.HealthAsync();
        Assert.Equal("SYNCED", status.GetProperty("configStatus").GetProperty("state").GetString());
        Assert.Equal("healthy", status.GetProperty("cacheStatus").GetString());
        Assert.Equal("true", await proxy.EvaluateAsync("dark_mode"));
    }

    [Fact]
    public async Task Requests_to_saas_carry_the_spec_headers_and_query()
    {
        await using var proxy = await OnlineProxy.StartAsync(redis);
        var requests = proxy.Saas.Requests;

        var auth = requests.First(r => r.Path.EndsWith("/proxy/auth", StringComparison.Ordinal));
        Assert.Equal(proxy.ProxyKey, auth.Json!["proxyKey"]!.GetValue<string>());
        Assert.StartsWith("application/json", auth.Header("Content-Type"), StringComparison.Ordinal);

        var config = requests.First(r => r.Path.EndsWith("/proxy/config", StringComparison.Ordinal));
        Assert.Equal($"?cluster=2&key={proxy.ProxyKey}&pageNumber=0&pageSize=10", config.Query);
        Assert.StartsWith("Bearer ", config.Header("Authorization"), StringComparison.Ordinal);

        var stream = requests.First(r => r.Path.EndsWith("/stream", StringComparison.Ordinal));
        Assert.Equal("?cluster=2&stream=%2A", stream.Query);
        Assert.Equal(proxy.ProxyKey, stream.Header("API-Key"));
        Assert.Equal("fake-account", stream.Header("Harness-AccountID"));
        Assert.StartsWith("Proxy ", stream.Header("Harness-SDK-Info"), StringComparison.Ordinal);
        Assert.Equal("text/event-stream", stream.Header("Accept"));
        Assert.Contains("no-cache", stream.Header("Cache-Control"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Paging_reads_all_25_environments()
    {
        var environments = Enumerable.Range(0, 24).Select(i => $"{i:D8}-0000-4000-8000-000000000000").Append(Env).ToList();
        await using var proxy = await OnlineProxy.StartAsync(redis, seed: (saas, proxyKey) =>
        {
            foreach (var env in environments.Where(e => e != Env))
            {
                saas.AddEnvironment(env, [$"key-{env}"], silent: true);
                saas.SetFlag(env, FakeSaas.Flag("f", environment: env), silent: true);
            }

            saas.SetProxyKeyEnvironments(proxyKey, [.. environments]);
        });

        var pages = proxy.Saas.Requests.Where(r => r.Path.EndsWith("/proxy/config", StringComparison.Ordinal)).Select(r => r.QueryValue("pageNumber")).ToList();
        Assert.Equal(["0", "1", "2"], pages.Take(3));
        var inventory = JsonDocument.Parse((await proxy.RedisGetAsync($"key-{proxy.ProxyKey}-inventory"))!).RootElement;
        foreach (var env in environments)
        {
            Assert.Equal($"\"{env}\"", await proxy.RedisGetAsync($"auth-key-{FakeSaas.Hash(env == Env ? OnlineProxy.ServerKey : $"key-{env}")}"));
            Assert.True(inventory.TryGetProperty($"env-{env}-feature-configs", out _), env);
        }
    }

    [Fact]
    public async Task A_resync_writes_each_page_as_it_arrives_and_removes_only_after_the_last_page()
    {
        // 25 environments in ordinal order: pages 0 and 1 hold "00…"–"19…", page 2 the rest and Env.
        const string gone = "99999999-0000-4000-8000-000000000000";
        var environments = Enumerable.Range(0, 24).Select(i => $"{i:D8}-0000-4000-8000-000000000000").Append(Env).ToList();
        await using var proxy = await OnlineProxy.StartAsync(redis, seed: (saas, proxyKey) =>
        {
            foreach (var env in environments.Where(e => e != Env).Append(gone))
            {
                saas.AddEnvironment(env, [$"key-{env}"], silent: true);
                saas.SetFlag(env, FakeSaas.Flag("f", environment: env), silent: true);
            }

            saas.SetProxyKeyEnvironments(proxyKey, [.. environments, gone]);
        });
        Assert.NotNull(await proxy.RedisGetAsync($"env-{gone}-feature-config-f"));
        await proxy.StopPrimaryAsync();

        // While the proxy is down: a flag of page 0 and one of page 1 change, an environment of the last page goes.
        var first = environments[0];
        var second = environments[12];
        proxy.Saas.SetFlag(first, FakeSaas.Flag("f", serve: "false", version: 2, environment: first), silent: true);
        proxy.Saas.SetFlag(second, FakeSaas.Flag("f", serve: "false", version: 2, environment: second), silent: true);
        proxy.Saas.RemoveEnvironment(gone, silent: true);
        proxy.Saas.FailConfigPagesFrom = 2;
        proxy.Saas.RefuseStreams = true; // the Primary polls every StreamRetry
        await proxy.RestartPrimaryAsync();

        // Pages 0 and 1 are written although the fetch fails at page 2; nothing is removed before the last page.
        await Eventually.TrueAsync(async () => (await proxy.RedisGetAsync($"env-{second}-feature-config-f"))?.Contains("\"version\":2", StringComparison.Ordinal) == true,
            Within, "page 1 was written before the fetch failed");
        Assert.Contains("\"version\":2", (await proxy.RedisGetAsync($"env-{first}-feature-config-f"))!, StringComparison.Ordinal);
        await Eventually.TrueAsync(() => Task.FromResult(proxy.Saas.Requests.Any(r => r.Path.EndsWith("/proxy/config", StringComparison.Ordinal) && r.QueryValue("pageNumber") == "2")),
            Within, "page 2 was asked for (and failed)");
        Assert.NotNull(await proxy.RedisGetAsync($"env-{gone}-feature-config-f"));
        Assert.NotNull(await proxy.RedisGetAsync($"auth-key-{FakeSaas.Hash($"key-{gone}")}"));

        // Once every page arrives, the sync ends with the removal.
        proxy.Saas.FailConfigPagesFrom = null;
        proxy.Saas.RefuseStreams = false;
        await Eventually.TrueAsync(async () => (await proxy.RedisKeysAsync($"env-{gone}-*")).Count == 0, Within, "the last page's sync removed the environment");
        Assert.Null(await proxy.RedisGetAsync($"auth-key-{FakeSaas.Hash($"key-{gone}")}"));
        Assert.Equal("SYNCED", (await proxy.HealthAsync()).GetProperty("configStatus").GetProperty("state").GetString());
    }
}

using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using FfProxy.Tests.Fakes;
using FfProxy.Tests.Fixtures;
using FfProxy.Tests.Replica;

namespace FfProxy.Tests.Primary;

/// <summary>
/// Guarantees of the Primary's write path (issue 14): one environment's events in order, a storm across environments
/// ending in SaaS's final state in Redis and on a Replica, and a crash before the inventory was written repaired by
/// the re-sync at the next start.
/// </summary>
public sealed class WritePathTests(RedisServer redis) : IClassFixture<RedisServer>
{
    private const string Env = OnlineProxy.Env;
    private static readonly TimeSpan Within = TimeSpan.FromSeconds(30);
    private static readonly string[] Others = ["22222222-2222-4222-8222-222222222222", "33333333-3333-4333-8333-333333333333", "44444444-4444-4444-8444-444444444444"];

    [Fact]
    public async Task Events_of_one_environment_reach_sdk_streams_in_the_order_saas_sent_them()
    {
        await using var proxy = await OnlineProxy.StartAsync(redis);
        var token = await proxy.Primary.AuthenticateAsync(OnlineProxy.ServerKey);
        await using var stream = await SseClient.ConnectAsync(proxy.Primary.BaseAddress, token, OnlineProxy.ServerKey);

        long last = 0;
        for (var i = 0; i < 40; i++)
        {
            last = proxy.Saas.SetFlag(Env, FakeSaas.Flag("dark_mode", serve: i % 2 == 0 ? "false" : "true", environment: Env));
        }

        // Every patch fetches the latest flag; applied in order, each event announces a higher version than the one before.
        var seen = new List<long>();
        while (seen.Count == 0 || seen[^1] < last)
        {
            var received = await stream.NextEventAsync(Within);
            if (received.GetProperty("identifier").GetString() == "dark_mode")
            {
                seen.Add(received.GetProperty("version").GetInt64());
            }
        }

        Assert.Equal(seen.Order(), seen);
        Assert.Equal(seen.Count, seen.Distinct().Count());
        var stored = JsonDocument.Parse((await proxy.RedisGetAsync($"env-{Env}-feature-config-dark_mode"))!).RootElement;
        Assert.Equal(last, stored.GetProperty("version").GetInt64());
    }

    [Fact]
    public async Task A_storm_of_interleaved_creates_patches_and_deletes_ends_in_saas_final_state_in_redis_and_on_a_replica()
    {
        var keys = Others.ToDictionary(env => env, env => "server-key-" + env[..8]);
        await using var proxy = await OnlineProxy.StartAsync(redis, ReplicaTests.FastPrimary, (saas, proxyKey) =>
        {
            foreach (var (env, key) in keys)
            {
                saas.AddEnvironment(env, [key], silent: true);
            }

            saas.SetProxyKeyEnvironments(proxyKey, [Env, .. Others]);
        });
        keys[Env] = OnlineProxy.ServerKey;
        await using var replica = ReplicaTests.StartReplica(redis.Address);
        await Eventually.TrueAsync(async () => (await replica.Client.GetFromJsonAsync<JsonElement>("/health"))
            .GetProperty("streamStatus").GetProperty("state").GetString() == "CONNECTED", Within);

        // SaaS's final state, tracked as the storm goes: environment -> flag -> version (absent = deleted).
        var expected = keys.Keys.ToDictionary(env => env, env => new Dictionary<string, long>(StringComparer.Ordinal));
        expected[Env]["dark_mode"] = 1;
        var random = new Random(14);
        for (var i = 0; i < 300; i++)
        {
            var env = keys.Keys.ElementAt(random.Next(keys.Count));
            var flag = "f" + random.Next(6);
            if (expected[env].ContainsKey(flag) && random.Next(3) == 0)
            {
                proxy.Saas.DeleteFlag(env, flag);
                expected[env].Remove(flag);
            }
            else
            {
                expected[env][flag] = proxy.Saas.SetFlag(env, FakeSaas.Flag(flag, serve: random.Next(2) == 0 ? "true" : "false", environment: env));
            }
        }

        foreach (var (env, flags) in expected)
        {
            await Eventually.TrueAsync(async () => StoredVersions(await proxy.RedisGetAsync($"env-{env}-feature-configs")).SequenceEqual(Sorted(flags)),
                Within, $"Redis holds SaaS's flags of {env}");
            foreach (var flag in Enumerable.Range(0, 6).Select(i => "f" + i))
            {
                var single = await proxy.RedisGetAsync($"env-{env}-feature-config-{flag}");
                long? want = flags.TryGetValue(flag, out var version) ? version : null;
                long? stored = single is null ? null : JsonDocument.Parse(single).RootElement.GetProperty("version").GetInt64();
                Assert.Equal(want, stored);
            }

            using var client = await replica.AuthenticatedClientAsync(keys[env]);
            await Eventually.TrueAsync(async () => StoredVersions(await client.GetStringAsync($"/client/env/{env}/feature-configs")).SequenceEqual(Sorted(flags)),
                Within, $"the Replica serves SaaS's flags of {env}");
        }

        // The inventory names exactly the keys the environments hold (it is written within a fraction of a second).
        await Eventually.TrueAsync(async () => InventoryKeys(await proxy.RedisGetAsync($"key-{proxy.ProxyKey}-inventory")).SetEquals(await OwnedKeysAsync(proxy)),
            Within, "the inventory lists exactly the stored keys");
    }

    [Fact]
    public async Task A_crash_between_item_writes_and_the_inventory_write_is_repaired_by_the_resync_at_the_next_start()
    {
        await using var proxy = await OnlineProxy.StartAsync(redis);
        proxy.Saas.SetFlag(Env, FakeSaas.Flag("fresh", environment: Env));
        proxy.Saas.SetFlag(Env, FakeSaas.Flag("doomed", environment: Env));
        var before = await NewFlagsInventoriedAsync(proxy);
        proxy.Saas.DeleteFlag(Env, "doomed");
        await Eventually.TrueAsync(async () => await proxy.RedisGetAsync($"env-{Env}-feature-config-doomed") is null, Within);
        await proxy.StopPrimaryAsync();

        // As if the Primary died before its coalesced inventory write: the stored inventory lacks "fresh" and still
        // names "doomed", whose key is already gone. Meanwhile SaaS deletes "fresh" and nobody hears of it.
        await using (var connection = await redis.ConnectAsync())
        {
            var stale = JsonSerializer.Serialize(before.Where(k => !k.EndsWith("-fresh", StringComparison.Ordinal)).ToDictionary(k => k, _ => 0));
            await connection.GetDatabase().StringSetAsync($"key-{proxy.ProxyKey}-inventory", stale);
        }

        proxy.Saas.DeleteFlag(Env, "fresh", silent: true);
        await proxy.RestartPrimaryAsync();
        await proxy.WaitForStreamStateAsync("CONNECTED", Within);

        await Eventually.TrueAsync(async () => await proxy.RedisGetAsync($"env-{Env}-feature-config-fresh") is null, Within, "the re-sync deleted the key the inventory lacked");
        Assert.Equal(["dark_mode"], StoredVersions(await proxy.RedisGetAsync($"env-{Env}-feature-configs")).Select(v => v.Key));
        await Eventually.TrueAsync(async () => InventoryKeys(await proxy.RedisGetAsync($"key-{proxy.ProxyKey}-inventory")).SetEquals(await OwnedKeysAsync(proxy)),
            Within, "the inventory lists exactly the stored keys");
    }

    /// <summary>Waits until the inventory lists both new flags, and returns its keys.</summary>
    private static async Task<HashSet<string>> NewFlagsInventoriedAsync(OnlineProxy proxy)
    {
        HashSet<string> keys = [];
        await Eventually.TrueAsync(async () =>
        {
            keys = InventoryKeys(await proxy.RedisGetAsync($"key-{proxy.ProxyKey}-inventory"));
            return keys.Contains($"env-{Env}-feature-config-fresh") && keys.Contains($"env-{Env}-feature-config-doomed");
        }, Within, "the inventory lists the new flags");
        return keys;
    }

    private static List<KeyValuePair<string, long>> Sorted(Dictionary<string, long> flags) => [.. flags.OrderBy(f => f.Key, StringComparer.Ordinal)];

    private static List<KeyValuePair<string, long>> StoredVersions(string? list) => list is null ? [] :
        [.. JsonDocument.Parse(list).RootElement.EnumerateArray()
            .Select(f => KeyValuePair.Create(f.GetProperty("feature").GetString()!, f.GetProperty("version").GetInt64()))
            .OrderBy(f => f.Key, StringComparer.Ordinal)];

    private static HashSet<string> InventoryKeys(string? inventory) => inventory is null ? [] :
        [.. JsonDocument.Parse(inventory).RootElement.EnumerateObject().Select(p => p.Name)];

    /// <summary>Configuration keys in Redis (environments' keys and SDK keys), without the -latest companions, which the inventory does not list.</summary>
    private static async Task<HashSet<string>> OwnedKeysAsync(OnlineProxy proxy) =>
        [.. (await proxy.RedisKeysAsync()).Where(k => (k.StartsWith("env-", StringComparison.Ordinal) || k.StartsWith("auth-key-", StringComparison.Ordinal))
            && !k.EndsWith("-latest", StringComparison.Ordinal) && !k.Contains("-target-config", StringComparison.Ordinal))];
}

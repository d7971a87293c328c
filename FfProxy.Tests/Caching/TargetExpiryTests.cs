using System.Text;
using FfProxy.Core.Caching;
using FfProxy.Tests.Fixtures;
using Microsoft.Extensions.Time.Testing;

namespace FfProxy.Tests.Caching;

/// <summary>
/// Targets seen at /client/auth come from clients, so they expire (24 h after their last authentication) in Redis
/// and in the single node's store, and the single node keeps a bounded number of them.
/// </summary>
public sealed class TargetExpiryTests(RedisServer redis) : IClassFixture<RedisServer>
{
    [Fact]
    public async Task A_target_stored_in_redis_has_an_expiry()
    {
        await using var proxy = await OnlineProxy.StartAsync(redis);
        await proxy.Primary.AuthenticateAsync(OnlineProxy.ClientKey, new { identifier = "visitor-1", name = "Visitor" });

        await using var connection = await redis.ConnectAsync();
        var ttl = await connection.GetDatabase().KeyTimeToLiveAsync(CacheKeys.TargetConfig(OnlineProxy.Env, "visitor-1"));
        Assert.NotNull(ttl);
        Assert.InRange(ttl.Value, ConfigRepository.TargetExpiry - TimeSpan.FromMinutes(1), ConfigRepository.TargetExpiry);
    }

    [Fact]
    public async Task The_single_node_store_lets_expiring_keys_lapse_and_bounds_their_number()
    {
        var time = new FakeTimeProvider();
        var store = new InMemoryKeyValueStore(time);
        await store.SetAsync([new("config", "{}"u8.ToArray())], CancellationToken.None);
        await store.SetExpiringAsync([new("target-a", "{}"u8.ToArray())], TimeSpan.FromHours(1), CancellationToken.None);
        Assert.NotNull(await store.GetAsync("target-a", CancellationToken.None));

        time.Advance(TimeSpan.FromHours(1) + TimeSpan.FromSeconds(1));
        Assert.Null(await store.GetAsync("target-a", CancellationToken.None));
        Assert.NotNull(await store.GetAsync("config", CancellationToken.None));

        for (var i = 0; i < InMemoryKeyValueStore.MaxExpiringKeys + 10_000; i++)
        {
            time.Advance(TimeSpan.FromMilliseconds(1));
            await store.SetExpiringAsync([new("target-" + i, Encoding.UTF8.GetBytes("{}"))], TimeSpan.FromHours(1), CancellationToken.None);
        }

        Assert.InRange(store.ExpiringKeys, 1, InMemoryKeyValueStore.MaxExpiringKeys);
        Assert.NotNull(await store.GetAsync("target-" + (InMemoryKeyValueStore.MaxExpiringKeys + 9_999), CancellationToken.None));
        Assert.Null(await store.GetAsync("target-0", CancellationToken.None));
        Assert.NotNull(await store.GetAsync("config", CancellationToken.None));
    }
}

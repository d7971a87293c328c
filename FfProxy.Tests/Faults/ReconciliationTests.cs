using System.Text.Json.Nodes;
using FfProxy.Core.Caching;
using FfProxy.Tests.Fixtures;
using FfProxy.Tests.Replica;

namespace FfProxy.Tests.Faults;

/// <summary>
/// Issue 11: a change written to Redis without an event on <c>proxy:sse_events</c> (a Go Primary that notifies before
/// it writes, an entry trimmed past MAXLEN) still reaches a Replica's SDK streams through the periodic reconciliation.
/// </summary>
public sealed class ReconciliationTests(RedisServer redis) : IClassFixture<RedisServer>
{
    private const string Env = OnlineProxy.Env;

    [Fact]
    public async Task A_change_stored_without_an_event_reaches_replica_streams_at_the_next_reconciliation()
    {
        await using var proxy = await OnlineProxy.StartAsync(redis);
        await using var replica = ReplicaTests.StartReplica(redis.Address, new Dictionary<string, string> { ["FfProxy:Replication:Reconciliation"] = "00:00:00.500" });
        await ReplicaTests.WaitForReplicaStateAsync(replica, "CONNECTED");
        var token = await proxy.Primary.AuthenticateAsync(OnlineProxy.ServerKey);
        await using var stream = await SseClient.ConnectAsync(replica.BaseAddress, token, OnlineProxy.ServerKey);

        // What another writer does: the list, its item and the -latest hash change; nothing is published.
        await using var connection = await redis.ConnectAsync();
        var db = connection.GetDatabase();
        var list = JsonNode.Parse((string)(await db.StringGetAsync(CacheKeys.FeatureConfigs(Env)))!)!.AsArray();
        var flag = list.Single(f => (string?)f!["feature"] == "dark_mode")!;
        flag["version"] = 7;
        await db.StringSetAsync(CacheKeys.FeatureConfig(Env, "dark_mode"), flag.ToJsonString());
        await db.StringSetAsync(CacheKeys.FeatureConfigs(Env), list.ToJsonString());
        await db.StringSetAsync(CacheKeys.Latest(CacheKeys.FeatureConfigs(Env)), "changed-by-another-writer");

        var received = await stream.NextEventAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(("patch", "dark_mode", 7L), (received.GetProperty("event").GetString(), received.GetProperty("identifier").GetString(), received.GetProperty("version").GetInt64()));
    }
}

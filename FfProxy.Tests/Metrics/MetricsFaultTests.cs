using System.Net;
using System.Text;
using FfProxy.Core.Caching;
using FfProxy.Tests.Fixtures;
using FfProxy.Tests.Replica;

namespace FfProxy.Tests.Metrics;

/// <summary>
/// Issue 11: SDK metrics a Replica accepted are not lost when the Primary stops or restarts, or when Redis is away
/// from the Replica for a while.
/// </summary>
public sealed class MetricsFaultTests(RedisServer redis) : IClassFixture<RedisServer>
{
    private const string Env = OnlineProxy.Env;
    private static readonly TimeSpan Within = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task Metrics_held_at_a_graceful_stop_are_flushed_and_those_accepted_while_no_primary_ran_are_forwarded_after_its_restart()
    {
        // A flush interval longer than the test: only the shutdown flush can post the first batch.
        await using var proxy = await OnlineProxy.StartReadingMetricsStreamAsync(redis, new Dictionary<string, string> { ["METRIC_POST_DURATION"] = "600" });
        await using var replica = ReplicaTests.StartReplica(redis.Address);
        await ReplicaTests.WaitForReplicaStateAsync(replica, "CONNECTED");
        using var client = await replica.AuthenticatedClientAsync(OnlineProxy.ServerKey);

        await PostAsync(client, 3);
        await Eventually.TrueAsync(async () => await proxy.RedisGetAsync(CacheKeys.SdkMetricsPosition) is not null, Within, "the Primary took the entry in");
        await proxy.StopPrimaryAsync();
        Assert.Contains(proxy.Saas.MetricsPosts, p => Count(p) == 3);

        // No Primary: the Replica still accepts, into the stream.
        await PostAsync(client, 7);
        await PostAsync(client, 11);
        await proxy.RestartPrimaryAsync(new Dictionary<string, string> { ["METRIC_POST_DURATION"] = "1" });
        await Eventually.TrueAsync(() => Task.FromResult(proxy.Saas.MetricsPosts.Sum(Count) == 3 + 7 + 11), Within,
            "what the Replica accepted while no Primary ran reached SaaS, once");
    }

    [Fact]
    public async Task A_replica_keeps_the_metrics_it_accepts_while_redis_is_away_and_writes_them_when_it_is_back()
    {
        await using var proxy = await OnlineProxy.StartReadingMetricsStreamAsync(redis, new Dictionary<string, string>
        {
            ["METRIC_POST_DURATION"] = "1",
            ["FfProxy:Saas:MetricsStreamBackoff"] = "00:00:00.500",
        });
        await using var replica = ReplicaTests.StartReplica(redis.Address);
        await ReplicaTests.WaitForReplicaStateAsync(replica, "CONNECTED");
        using var client = await replica.AuthenticatedClientAsync(OnlineProxy.ServerKey);

        await redis.StopAsync();
        try
        {
            await PostAsync(client, 5);
            await PostAsync(client, 6);
        }
        finally
        {
            await redis.StartAsync();
        }

        await Eventually.TrueAsync(() => Task.FromResult(proxy.Saas.MetricsPosts.Sum(Count) == 5 + 6), Within, "the metrics kept during the outage reached SaaS");
    }

    private static async Task PostAsync(HttpClient client, int count)
    {
        using var response = await client.PostAsync($"/metrics/{Env}", new StringContent(
            $$"""{"metricsData":[{"timestamp":1,"count":{{count}},"metricsType":"FFMETRICS","attributes":[{"key":"featureIdentifier","value":"dark_mode"},{"key":"variationIdentifier","value":"true"}]}]}""",
            Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    private static int Count(Fakes.RecordedRequest post) =>
        post.Json?["metricsData"] is System.Text.Json.Nodes.JsonArray data ? data.Sum(m => m?["count"]?.GetValue<int>() ?? 0) : 0;
}

using System.Net;
using System.Text;
using System.Text.Json;
using FfProxy.Core.Caching;
using FfProxy.Tests.Fakes;
using FfProxy.Tests.Fixtures;

namespace FfProxy.Tests.Metrics;

/// <summary>Metrics and targets reaching SaaS (spec §3.7, §3.8) from the Primary's intake and from stream:sdk_metrics.</summary>
public sealed class MetricsForwardingTests(RedisServer redis) : IClassFixture<RedisServer>
{
    private const string Env = OnlineProxy.Env;
    private static readonly TimeSpan Within = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task Metrics_from_sdks_and_from_replicas_are_aggregated_and_posted_per_environment_on_the_timer()
    {
        await using var proxy = await OnlineProxy.StartReadingMetricsStreamAsync(redis, new Dictionary<string, string> { ["METRIC_POST_DURATION"] = "1" });
        using var client = await proxy.Primary.AuthenticatedClientAsync(OnlineProxy.ServerKey);

        for (var i = 0; i < 2; i++)
        {
            using var response = await client.PostAsync($"/metrics/{Env}", Body(count: 2, target: $"u{i}"));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        // A Replica's entry on stream:sdk_metrics joins the same bucket.
        await using (var connection = await redis.ConnectAsync())
        {
            var entry = $$"""{"environment_id":"{{Env}}","metricsData":{{MetricsJson(3)}},"targetData":[{"identifier":"from-replica","name":"r","attributes":[]}]}""";
            await connection.GetDatabase().StreamAddAsync(CacheKeys.SdkMetricsStream, "event", entry);
        }

        var buckets = () => proxy.Saas.MetricsPosts.SelectMany(p => p.Json!["metricsData"]?.AsArray() ?? []).ToList();
        await Eventually.TrueAsync(() => Task.FromResult(buckets().Sum(n => n!["count"]!.GetValue<int>()) == 7), Within, "counts 2 + 2 + 3 arrived");

        // Three entries of one bucket were merged (at most split across two flush windows).
        Assert.InRange(buckets().Count, 1, 2);
        var metricsPost = proxy.Saas.MetricsPosts.First(p => p.Json!["metricsData"] is not null);
        Assert.Equal($"/api/1.0/metrics/{Env}", metricsPost.Path);
        Assert.Equal("2", metricsPost.QueryValue("cluster"));
        Assert.StartsWith("Bearer ", metricsPost.Header("Authorization"), StringComparison.Ordinal);
        Assert.Equal(Env, metricsPost.Header("Harness-EnvironmentID"));
        await Eventually.TrueAsync(() => Task.FromResult(proxy.Saas.MetricsPosts.SelectMany(p => p.Json!["targetData"]?.AsArray() ?? []).Count() == 3), Within,
            "targets from both sources, concatenated");
    }

    [Fact]
    public async Task One_mebibyte_of_metrics_is_posted_at_once_without_waiting_for_the_timer()
    {
        await using var proxy = await OnlineProxy.StartReadingMetricsStreamAsync(redis, new Dictionary<string, string> { ["METRIC_POST_DURATION"] = "3600" });
        await using (var connection = await redis.ConnectAsync())
        {
            var padding = new string('x', 1000);
            for (var i = 0; i < 1100; i++)
            {
                var entry = $$"""{"environment_id":"{{Env}}","metricsData":[],"targetData":[{"identifier":"u{{i}}","name":"{{padding}}","attributes":[]}]}""";
                await connection.GetDatabase().StreamAddAsync(CacheKeys.SdkMetricsStream, "event", entry);
            }
        }

        await Eventually.TrueAsync(() => Task.FromResult(proxy.Saas.MetricsPosts.Count > 0), Within, "the size trigger flushed");
    }

    [Fact]
    public async Task Zero_disables_forwarding_and_targets_are_forwarded_when_asked()
    {
        await using var proxy = await OnlineProxy.StartAsync(redis, new Dictionary<string, string> { ["METRIC_POST_DURATION"] = "0", ["FORWARD_TARGETS"] = "true" });
        using var client = await proxy.Primary.AuthenticatedClientAsync(OnlineProxy.ServerKey, new { identifier = "forward-me", name = "Forward Me", anonymous = false, attributes = new { plan = "pro" } });
        using var response = await client.PostAsync($"/metrics/{Env}", Body(count: 1, target: "t"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);

        await Eventually.TrueAsync(() => Task.FromResult(proxy.Saas.TargetAuths.Count == 1), Within, "the target was forwarded");
        var forwarded = proxy.Saas.TargetAuths[0].Json!;
        Assert.Equal(OnlineProxy.ServerKey, forwarded["apiKey"]!.GetValue<string>());
        Assert.Equal("forward-me", forwarded["target"]!["identifier"]!.GetValue<string>());
        Assert.Equal("pro", forwarded["target"]!["attributes"]!["plan"]!.GetValue<string>());
        await Eventually.TrueAsync(() => Task.FromResult(proxy.Logs.All.Contains("Metrics forwarding is disabled (METRIC_POST_DURATION=0)", StringComparison.Ordinal)),
            Within, "the forwarder saw the setting");

        // Stopped, the Primary has made every post it would make (a shutdown flush included): none.
        await proxy.StopPrimaryAsync();
        Assert.Empty(proxy.Saas.MetricsPosts);
    }

    [Fact]
    public async Task A_metrics_post_that_saas_refuses_is_not_repeated()
    {
        await using var proxy = await OnlineProxy.StartAsync(redis, new Dictionary<string, string> { ["METRIC_POST_DURATION"] = "1" });
        proxy.Saas.FailMetricsWith = HttpStatusCode.InternalServerError;
        using var client = await proxy.Primary.AuthenticatedClientAsync(OnlineProxy.ServerKey);

        using (var refused = await client.PostAsync($"/metrics/{Env}", Body(count: 1, target: "refused")))
        {
            Assert.Equal(HttpStatusCode.OK, refused.StatusCode);
        }

        // Both posts (metrics, targets) failed and were dropped: logged once the client gave up, so retries would show by now.
        await Eventually.TrueAsync(() => Task.FromResult(DroppedBatches(proxy) == 2), Within, "the metrics and the targets were refused and dropped");
        Assert.Equal(2, proxy.Saas.MetricsPosts.Count);

        // The next flush carries only what came in since: the dropped batches are not resent.
        proxy.Saas.FailMetricsWith = null;
        using (var accepted = await client.PostAsync($"/metrics/{Env}", Body(count: 5, target: "accepted")))
        {
            Assert.Equal(HttpStatusCode.OK, accepted.StatusCode);
        }

        await Eventually.TrueAsync(() => Task.FromResult(proxy.Saas.MetricsPosts.Count == 4), Within, "the next flush posted the new metrics and targets");
        var next = proxy.Saas.MetricsPosts.Skip(2).Select(p => p.Json!).ToList();
        Assert.Equal(5, next.SelectMany(p => p["metricsData"]?.AsArray() ?? []).Sum(m => m!["count"]!.GetValue<int>()));
        Assert.Equal(["accepted"], next.SelectMany(p => p["targetData"]?.AsArray() ?? []).Select(t => t!["identifier"]!.GetValue<string>()));
        Assert.Equal(2, DroppedBatches(proxy));
    }

    private static int DroppedBatches(OnlineProxy proxy) =>
        proxy.Logs.Lines.Count(l => l.Contains($"Posting metrics of environment {Env} failed; the batch is dropped", StringComparison.Ordinal));

    private static string MetricsJson(int count) => $$"""
        [{"timestamp":1700000000000,"count":{{count}},"metricsType":"FFMETRICS","attributes":[{"key":"featureIdentifier","value":"dark_mode"},{"key":"featureName","value":"dark_mode"},
        {"key":"variationIdentifier","value":"true"},{"key":"target","value":"u"},{"key":"SDK_TYPE","value":"server"},{"key":"SDK_LANGUAGE","value":"node"},{"key":"SDK_VERSION","value":"1.8.0"}]}]
        """;

    private static StringContent Body(int count, string target) => new(
        $$"""{"metricsData":{{MetricsJson(count)}},"targetData":[{"identifier":"{{target}}","name":"{{target}}","attributes":[]}]}""",
        Encoding.UTF8, "application/json");
}

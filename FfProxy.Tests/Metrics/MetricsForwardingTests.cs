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
        await using var proxy = await OnlineProxy.StartAsync(redis, new Dictionary<string, string> { ["METRIC_POST_DURATION"] = "1" });
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
            await Task.Delay(300); // the reader starts from $, after the Primary is up
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
        await using var proxy = await OnlineProxy.StartAsync(redis, new Dictionary<string, string> { ["METRIC_POST_DURATION"] = "3600" });
        await Task.Delay(300);
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
        await Task.Delay(1500);
        Assert.Empty(proxy.Saas.MetricsPosts);
    }

    [Fact]
    public async Task A_metrics_post_that_saas_refuses_is_not_repeated()
    {
        await using var proxy = await OnlineProxy.StartAsync(redis, new Dictionary<string, string> { ["METRIC_POST_DURATION"] = "1" });
        proxy.Saas.FailMetricsWith = HttpStatusCode.InternalServerError;
        using var client = await proxy.Primary.AuthenticatedClientAsync(OnlineProxy.ServerKey);

        using var response = await client.PostAsync($"/metrics/{Env}", Body(count: 1, target: "t"));

        await Eventually.TrueAsync(() => Task.FromResult(proxy.Saas.MetricsPosts.Count >= 2), Within, "the metrics and the targets were posted once each");
        await Task.Delay(2500); // long enough for retries, and for a next flush that must not resend the dropped batches
        Assert.Equal(2, proxy.Saas.MetricsPosts.Count);
    }

    private static string MetricsJson(int count) => $$"""
        [{"timestamp":1700000000000,"count":{{count}},"metricsType":"FFMETRICS","attributes":[{"key":"featureIdentifier","value":"dark_mode"},{"key":"featureName","value":"dark_mode"},
        {"key":"variationIdentifier","value":"true"},{"key":"target","value":"u"},{"key":"SDK_TYPE","value":"server"},{"key":"SDK_LANGUAGE","value":"node"},{"key":"SDK_VERSION","value":"1.8.0"}]}]
        """;

    private static StringContent Body(int count, string target) => new(
        $$"""{"metricsData":{{MetricsJson(count)}},"targetData":[{"identifier":"{{target}}","name":"{{target}}","attributes":[]}]}""",
        Encoding.UTF8, "application/json");
}

using System.Text.RegularExpressions;
using FfProxy.Tests.Fixtures;
using FfProxy.Tests.Replica;

namespace FfProxy.Tests.Metrics;

/// <summary>
/// Spec §7 as the Go proxy exposes it, so its public Grafana dashboard matches: <c>ff_proxy_stream_health</c> on every
/// role, Go's histogram buckets, and no label beyond the Go ones on every series.
/// </summary>
public sealed partial class PrometheusParityTests(RedisServer redis) : IClassFixture<RedisServer>
{
    [Fact]
    public async Task An_offline_primary_reports_its_stream_healthy_with_go_buckets_and_no_scope_labels()
    {
        await using var proxy = PrimaryHost.StartOffline();
        Assert.Contains("\"CONNECTED\"", await proxy.Client.GetStringAsync("/health"), StringComparison.Ordinal);
        using var sdk = await proxy.AuthenticatedClientAsync(Sample.ServerKey);
        await sdk.GetStringAsync($"/client/env/{Sample.Environment}/feature-configs");

        var scrape = await proxy.Client.GetStringAsync("/metrics");

        Assert.Equal([1.0], PrometheusText.Values(scrape, "ff_proxy_stream_health", ("host", Environment.MachineName)));
        Assert.DoesNotContain("otel_scope_", scrape, StringComparison.Ordinal);
        var buckets = BucketBound().Matches(scrape).Select(m => m.Groups["le"].Value).Distinct().ToArray();
        Assert.Equal(["0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf"], buckets);
    }

    [Fact]
    public async Task A_replica_reports_the_primarys_stream_health()
    {
        await using var proxy = await OnlineProxy.StartAsync(redis, ReplicaTests.FastPrimary);
        await using var replica = ReplicaTests.StartReplica(redis.Address);
        await ReplicaTests.WaitForReplicaStateAsync(replica, "CONNECTED");

        // The gauge reads the state /health reports, at scrape time. Once, in a full clean-clone run, it read 0 just after
        // /health had said CONNECTED (not reproduced in five runs alone): the state can still move right after the
        // Replica first reads it, so wait for the gauge as for /health.
        var scrape = "";
        await Eventually.TrueAsync(async () =>
        {
            scrape = await replica.Client.GetStringAsync("/metrics");
            return PrometheusText.Values(scrape, "ff_proxy_stream_health", ("host", Environment.MachineName)).SequenceEqual([1.0]);
        }, TimeSpan.FromSeconds(10), "the Replica's gauge shows the Primary's stream connected");
        Assert.DoesNotContain("otel_scope_", scrape, StringComparison.Ordinal);
    }

    [GeneratedRegex("^ff_proxy_http_requests_duration_bucket\\{[^}]*le=\"(?<le>[^\"]+)\"", RegexOptions.Multiline)]
    private static partial Regex BucketBound();
}

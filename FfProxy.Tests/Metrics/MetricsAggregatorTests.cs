using FfProxy.Core.Domain;
using FfProxy.Primary.Metrics;

namespace FfProxy.Tests.Metrics;

public sealed class MetricsAggregatorTests
{
    [Fact]
    public void Entries_of_one_bucket_sum_their_counts_and_keep_the_first_entry()
    {
        var aggregator = new MetricsAggregator();
        aggregator.Add("e1", Request(Entry("f", "true", count: 2, timestamp: 10, extra: "first")), 100);
        aggregator.Add("e1", Request(Entry("f", "true", count: 3, timestamp: 20, extra: "second")), 100);

        var batch = Assert.Single(aggregator.Drain());
        var merged = Assert.Single(batch.MetricsData);
        Assert.Equal(5, merged.Count);
        Assert.Equal(10, merged.Timestamp);
        Assert.Contains(merged.Attributes!, a => a is { Key: "target", Value: "first" });
    }

    [Fact]
    public void Counts_that_would_overflow_saturate_instead_of_wrapping()
    {
        var aggregator = new MetricsAggregator();
        aggregator.Add("e1", Request(Entry("f", "true", count: int.MaxValue, timestamp: 10, extra: "a")), 100);
        aggregator.Add("e1", Request(Entry("f", "true", count: int.MaxValue, timestamp: 20, extra: "b")), 100);

        Assert.Equal(int.MaxValue, Assert.Single(Assert.Single(aggregator.Drain()).MetricsData).Count);
    }

    [Theory]
    [InlineData("g", "true", "node", "1.8.0")]
    [InlineData("f", "false", "node", "1.8.0")]
    [InlineData("f", "true", "javascript", "1.8.0")]
    [InlineData("f", "true", "node", "1.9.0")]
    public void Entries_differing_in_flag_variation_language_or_version_are_separate_buckets(string flag, string variation, string language, string version)
    {
        var aggregator = new MetricsAggregator();
        aggregator.Add("e1", Request(Entry("f", "true")), 10);
        aggregator.Add("e1", Request(Entry(flag, variation, language: language, version: version)), 10);

        Assert.Equal(2, Assert.Single(aggregator.Drain()).MetricsData.Count);
    }

    [Fact]
    public void The_flag_falls_back_to_featureName_and_environments_stay_apart()
    {
        var aggregator = new MetricsAggregator();
        var byName = new MetricsData
        {
            Count = 4,
            Attributes = [new() { Key = "featureName", Value = "f" }, new() { Key = "variationIdentifier", Value = "true" },
                new() { Key = "SDK_LANGUAGE", Value = "node" }, new() { Key = "SDK_VERSION", Value = "1.8.0" }],
        };
        aggregator.Add("e1", Request(Entry("f", "true")), 10);
        aggregator.Add("e1", new MetricsRequest { MetricsData = [byName] }, 10);
        aggregator.Add("e2", Request(Entry("f", "true")), 10);

        var batches = aggregator.Drain().OrderBy(b => b.Environment, StringComparer.Ordinal).ToList();
        Assert.Equal(5, Assert.Single(batches[0].MetricsData).Count);
        Assert.Equal(1, Assert.Single(batches[1].MetricsData).Count);
        Assert.Empty(aggregator.Drain());
    }

    [Fact]
    public void Targets_are_concatenated_without_deduplication()
    {
        var aggregator = new MetricsAggregator();
        aggregator.Add("e1", new MetricsRequest { TargetData = [new TargetData { Identifier = "u1" }] }, 10);
        aggregator.Add("e1", new MetricsRequest { TargetData = [new TargetData { Identifier = "u1" }, new TargetData { Identifier = "u2" }] }, 10);

        Assert.Equal(["u1", "u1", "u2"], Assert.Single(aggregator.Drain()).TargetData.Select(t => t.Identifier));
    }

    [Fact]
    public void One_mebibyte_from_any_source_requests_a_flush_and_drain_resets_the_count()
    {
        var aggregator = new MetricsAggregator();
        var requested = 0;
        aggregator.FlushRequested += () => requested++;

        aggregator.Add("e1", Request(Entry("f", "true")), 600_000);
        Assert.Equal(0, requested);
        aggregator.Add("e2", Request(Entry("f", "true")), 500_000);
        Assert.Equal(1, requested);

        aggregator.Drain();
        Assert.Equal(0, aggregator.PendingBytes);
    }

    internal static MetricsRequest Request(params MetricsData[] entries) => new() { MetricsData = entries };

    internal static MetricsData Entry(string flag, string variation, int count = 1, long timestamp = 1, string language = "node", string version = "1.8.0", string extra = "t") => new()
    {
        Count = count,
        Timestamp = timestamp,
        MetricsType = "FFMETRICS",
        Attributes =
        [
            new() { Key = "featureIdentifier", Value = flag }, new() { Key = "featureName", Value = flag },
            new() { Key = "variationIdentifier", Value = variation }, new() { Key = "target", Value = extra },
            new() { Key = "SDK_TYPE", Value = "server" }, new() { Key = "SDK_LANGUAGE", Value = language }, new() { Key = "SDK_VERSION", Value = version },
        ],
    };
}

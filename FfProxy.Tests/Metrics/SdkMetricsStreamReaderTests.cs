using System.Text;
using FfProxy.Core.Caching;
using FfProxy.Core.Configuration;
using FfProxy.Core.Messaging;
using FfProxy.Primary.Metrics;
using FfProxy.Primary.Saas;
using FfProxy.Tests.Fixtures;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace FfProxy.Tests.Metrics;

/// <summary>The Primary following <c>stream:sdk_metrics</c> (spec §3.7, §4.3) into the aggregation queue.</summary>
public sealed class SdkMetricsStreamReaderTests : IAsyncLifetime, IAsyncDisposable
{
    private const string Stream = CacheKeys.SdkMetricsStream;
    private static readonly TimeSpan Backoff = new SaasTimings().MetricsStreamBackoff;

    private readonly BreakableStreams _streams = new();
    private readonly ObservedTimeProvider _time = new();
    private readonly MetricsAggregator _aggregator = new();
    private readonly TestMeterFactory _meters = new();
    private readonly RecordedCounters _counters;
    private readonly SdkMetricsStreamReader _reader;
    private long _appendedBytes;

    public SdkMetricsStreamReaderTests()
    {
        _counters = new RecordedCounters(_meters);
        _reader = new SdkMetricsStreamReader(_streams, new InMemoryKeyValueStore(_time), _aggregator, new MessageStreamMetrics(_meters), new ProxyOptions { MetricStreamReadConcurrency = 3 },
            Options.Create(new SaasTimings()), _time, NullLogger<SdkMetricsStreamReader>.Instance);
    }

    [Fact]
    public async Task Entries_are_merged_into_the_queue_with_their_size()
    {
        await StartAsync();
        await AppendAsync(Entry("e1", count: 2, target: "u1"));
        await AppendAsync(Entry("e1", count: 3, target: "u2"));
        await AppendAsync(Entry("e2", count: 1, target: "u3"));
        await WaitForBytesAsync();

        var batches = _aggregator.Drain().OrderBy(b => b.Environment, StringComparer.Ordinal).ToList();
        Assert.Equal(["e1", "e2"], batches.Select(b => b.Environment));
        Assert.Equal(5, Assert.Single(batches[0].MetricsData).Count);
        Assert.Equal(["u1", "u2"], batches[0].TargetData.Select(t => t.Identifier).Order(StringComparer.Ordinal));
        Assert.Equal(["0-0"], _streams.Reads);
        Assert.Equal(1, _counters.Count($"ff_proxy_primary_metrics_stream_consumer_subscription_requests{{topic={Stream}}}"));
        Assert.Equal(3, _counters.Count($"ff_proxy_primary_metrics_stream_consumer_messages_received{{error=false,topic={Stream}}}"));
    }

    [Fact]
    public async Task Unreadable_entries_are_skipped_and_counted()
    {
        await StartAsync();
        await AppendAsync("not json", counts: false);
        await AppendAsync("""{"metricsData":[],"targetData":[]}""", counts: false);
        await AppendAsync("[1,2]", counts: false);
        await AppendAsync(Entry("e1", count: 4, target: "u1"));
        await WaitForBytesAsync();

        Assert.Equal(4, Assert.Single(Assert.Single(_aggregator.Drain()).MetricsData).Count);
        await Eventually.TrueAsync(() => Task.FromResult(
            _counters.Count($"ff_proxy_primary_metrics_stream_consumer_messages_received{{error=err_parsing_message,topic={Stream}}}") == 3));
    }

    [Fact]
    public async Task A_mebibyte_from_the_stream_requests_a_flush()
    {
        var requested = 0;
        _aggregator.FlushRequested += () => Interlocked.Increment(ref requested);
        await StartAsync();

        await AppendAsync(Entry("e1", count: 1, target: new string('x', (int)MetricsAggregator.FlushThresholdBytes)));
        await WaitForBytesAsync();

        Assert.Equal(1, Volatile.Read(ref requested));
    }

    public static TheoryData<string> Failures => ["redis", "unexpected"];

    [Theory]
    [MemberData(nameof(Failures))]
    public async Task After_a_failure_it_backs_off_and_resumes_after_the_last_entry_it_saw(string failure)
    {
        await StartAsync();
        var first = await AppendAsync(Entry("e1", count: 1, target: "before"));
        await WaitForBytesAsync();
        var timers = _time.TimersCreated;

        _streams.Break(failure == "redis" ? new StoreUnavailableException("connection lost") : new InvalidOperationException("surprise"));
        await _time.WaitForTimersAsync(timers + 1);
        await AppendAsync(Entry("e1", count: 2, target: "during"));
        _time.Advance(Backoff - TimeSpan.FromSeconds(1));
        Assert.Equal(["0-0"], _streams.Reads);

        _time.Advance(TimeSpan.FromSeconds(1));
        await WaitForBytesAsync();

        Assert.Equal(["0-0", first], _streams.Reads);
        var batch = Assert.Single(_aggregator.Drain());
        Assert.Equal(3, Assert.Single(batch.MetricsData).Count);
        Assert.Equal(["before", "during"], batch.TargetData.Select(t => t.Identifier));
        var error = failure == "redis" ? "err_subscribing" : "unexpected_error";
        Assert.Equal(1, _counters.Count($"ff_proxy_primary_metrics_stream_consumer_messages_received{{error={error},topic={Stream}}}"));
        Assert.Equal(2, _counters.Count($"ff_proxy_primary_metrics_stream_consumer_subscription_requests{{topic={Stream}}}"));
    }

    [Fact]
    public async Task A_reader_that_saw_nothing_yet_resumes_after_a_failure_from_where_it_started_not_from_a_later_dollar()
    {
        // Without a stored position the reader starts at the newest entry, fixed to its id ("0-0": none yet).
        await StartAsync();
        var timers = _time.TimersCreated;

        // What a Replica writes during the gap (after a Redis restart, what it kept while Redis was away) is forwarded.
        _streams.Break(new StoreUnavailableException("connection lost"));
        await _time.WaitForTimersAsync(timers + 1);
        await AppendAsync(Entry("e1", count: 4, target: "during"));
        _time.Advance(Backoff);
        await WaitForBytesAsync();

        Assert.Equal(["0-0", "0-0"], _streams.Reads);
        Assert.Equal(4, Assert.Single(Assert.Single(_aggregator.Drain()).MetricsData).Count);
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        await _reader.StopAsync(default);
        _reader.Dispose();
        _counters.Dispose();
        _meters.Dispose();
    }

    async ValueTask IAsyncDisposable.DisposeAsync() => await DisposeAsync();

    private async Task StartAsync()
    {
        await _reader.StartAsync(default);
        await Eventually.TrueAsync(() => Task.FromResult(_streams.Reads.Count == 1), because: "the reader is following the stream");
    }

    private async Task<string> AppendAsync(string payload, bool counts = true)
    {
        var bytes = Encoding.UTF8.GetBytes(payload);
        if (counts)
        {
            _appendedBytes += bytes.Length;
        }

        return await _streams.AppendAsync(Stream, bytes, 1000, default);
    }

    /// <summary>Waits until every readable entry appended so far is in the queue: the queue counts their exact bytes.</summary>
    private Task WaitForBytesAsync() =>
        Eventually.TrueAsync(() => Task.FromResult(_aggregator.PendingBytes == _appendedBytes), because: $"{_appendedBytes} bytes reached the queue");

    private static string Entry(string environment, int count, string target) => $$"""
        {"environment_id":"{{environment}}","metricsData":[{"timestamp":1700000000000,"count":{{count}},"metricsType":"FFMETRICS","attributes":[
        {"key":"featureIdentifier","value":"dark_mode"},{"key":"variationIdentifier","value":"true"},{"key":"SDK_LANGUAGE","value":"go"},{"key":"SDK_VERSION","value":"0.2.0"}]}],
        "targetData":[{"identifier":"{{target}}","name":"{{target}}","attributes":[]}]}
        """;
}

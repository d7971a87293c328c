using System.Text.Json;
using System.Threading.Channels;
using FfProxy.Core.Caching;
using FfProxy.Core.Configuration;
using FfProxy.Core.Domain;
using FfProxy.Core.Hosting;
using FfProxy.Core.Messaging;
using FfProxy.Primary.Saas;
using Microsoft.Extensions.Options;

namespace FfProxy.Primary.Metrics;

/// <summary>
/// Follows <c>stream:sdk_metrics</c> (what Replicas accepted) from <c>$</c> and feeds the aggregation queue through
/// METRIC_STREAM_READ_CONCURRENCY parsers. After a Redis error it backs off and resumes from the last entry it saw,
/// so nothing still in the stream is lost (spec §4.3).
/// </summary>
public sealed partial class SdkMetricsStreamReader(
    IMessageStreams streams,
    MetricsAggregator aggregator,
    StreamMetrics streamMetrics,
    ProxyOptions options,
    IOptions<SaasTimings> timings,
    TimeProvider time,
    ILogger<SdkMetricsStreamReader> logger) : SupervisedLoop
{
    protected override TimeProvider Time => time;

    protected override ILogger Logger => logger;

    private const string Stream = CacheKeys.SdkMetricsStream;

    protected override async Task RunAsync(CancellationToken stoppingToken)
    {
        var entries = Channel.CreateBounded<StreamEntry>(new BoundedChannelOptions(options.MetricStreamReadConcurrency * 10) { SingleWriter = true });
        var parsers = Enumerable.Range(0, options.MetricStreamReadConcurrency).Select(_ => ParseAsync(entries.Reader, stoppingToken)).ToList();
        var lastId = StreamPosition.NewOnly;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                streamMetrics.Subscribed(StreamMetrics.PrimaryMetricsConsumer, Stream);
                await foreach (var entry in streams.ReadAsync(Stream, lastId, stoppingToken).ConfigureAwait(false))
                {
                    lastId = entry.Id;
                    await entries.Writer.WriteAsync(entry, stoppingToken).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex)
            {
                // Redis errors arrive as StoreUnavailableException; anything else must not end the reader either.
                var unavailable = ex is StoreUnavailableException;
                streamMetrics.Received(StreamMetrics.PrimaryMetricsConsumer, Stream, unavailable ? "err_subscribing" : "unexpected_error");
                if (unavailable)
                {
                    LogReadFailed(logger, timings.Value.MetricsStreamBackoff, ex.Message);
                }
                else
                {
                    LogReadCrashed(logger, timings.Value.MetricsStreamBackoff, ex);
                }

                try
                {
                    await Task.Delay(timings.Value.MetricsStreamBackoff, time, stoppingToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }
        }

        entries.Writer.TryComplete();
        await Task.WhenAll(parsers).ConfigureAwait(false);
    }

    private async Task ParseAsync(ChannelReader<StreamEntry> entries, CancellationToken stoppingToken)
    {
        try
        {
            await foreach (var entry in entries.ReadAllAsync(stoppingToken).ConfigureAwait(false))
            {
                if (Parse(entry) is not { } parsed)
                {
                    streamMetrics.Received(StreamMetrics.PrimaryMetricsConsumer, Stream, "err_parsing_message");
                    continue;
                }

                aggregator.Add(parsed.EnvironmentId, new MetricsRequest { MetricsData = parsed.MetricsData, TargetData = parsed.TargetData }, entry.Payload.Length);
                streamMetrics.Received(StreamMetrics.PrimaryMetricsConsumer, Stream, "false");
            }
        }
        catch (OperationCanceledException)
        {
            // Shutting down.
        }
    }

    private SdkMetricsStreamEntry? Parse(StreamEntry entry)
    {
        try
        {
            var parsed = JsonSerializer.Deserialize(entry.Payload.Span, ProxyJsonContext.Default.SdkMetricsStreamEntry);
            if (parsed is { EnvironmentId.Length: > 0 })
            {
                return parsed;
            }

            LogBadEntry(logger, entry.Id, "no environment_id");
        }
        catch (JsonException ex)
        {
            LogBadEntry(logger, entry.Id, ex.Message);
        }

        return null;
    }

    [LoggerMessage(EventId = 4103, Level = LogLevel.Error, Message = "Reading stream:sdk_metrics failed unexpectedly; resuming in {Backoff}")]
    private static partial void LogReadCrashed(ILogger logger, TimeSpan backoff, Exception exception);

    [LoggerMessage(EventId = 4101, Level = LogLevel.Warning, Message = "Reading stream:sdk_metrics failed; resuming in {Backoff}: {Reason}")]
    private static partial void LogReadFailed(ILogger logger, TimeSpan backoff, string reason);

    [LoggerMessage(EventId = 4102, Level = LogLevel.Warning, Message = "Skipped unreadable stream:sdk_metrics entry {Id}: {Reason}")]
    private static partial void LogBadEntry(ILogger logger, string id, string reason);
}

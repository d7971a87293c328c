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
/// Follows <c>stream:sdk_metrics</c> (what Replicas accepted) and feeds the aggregation queue through
/// METRIC_STREAM_READ_CONCURRENCY parsers. It starts where the previous Primary left off (the id kept in
/// <c>ffproxy_sdk_metrics_position</c>), or from the newest entry (<c>$</c>, fixed to its id) the first time, so entries Replicas wrote while no Primary
/// ran are forwarded too; after a Redis error it backs off and resumes from the last entry it saw, or where it started (spec §4.3). Plain
/// XREAD, no consumer group: a Go Primary can read the same stream. On shutdown the parsers finish what was read,
/// so the forwarder's last flush includes it.
/// </summary>
internal sealed partial class SdkMetricsStreamReader(
    IMessageStreams streams,
    IKeyValueStore store,
    MetricsAggregator aggregator,
    MessageStreamMetrics streamMetrics,
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
        var entries = Channel.CreateBounded<MessageStreamEntry>(new BoundedChannelOptions(options.MetricStreamReadConcurrency * 10) { SingleWriter = true });
        var parsers = Enumerable.Range(0, options.MetricStreamReadConcurrency).Select(_ => Task.Run(() => ParseAsync(entries.Reader), CancellationToken.None)).ToList();
        var lastId = await StartPositionAsync(stoppingToken).ConfigureAwait(false);
        _taken = lastId;
        var saver = SavePeriodicallyAsync(lastId, stoppingToken);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                streamMetrics.Subscribed(MessageStreamMetrics.PrimaryMetricsConsumer, Stream);
                await foreach (var entry in streams.ReadAsync(Stream, lastId, stoppingToken).ConfigureAwait(false))
                {
                    await entries.Writer.WriteAsync(entry, stoppingToken).ConfigureAwait(false);
                    lastId = entry.Id;
                    Volatile.Write(ref _taken, lastId);
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
                streamMetrics.Received(MessageStreamMetrics.PrimaryMetricsConsumer, Stream, unavailable ? "err_subscribing" : "unexpected_error");
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
        await SavePositionAsync(lastId, await saver.ConfigureAwait(false)).ConfigureAwait(false);
    }

    private string _taken = MessageStreamPosition.NewOnly;

    /// <summary>Saves the position every <see cref="PositionSaveInterval"/> while it moves; returns what was saved last.</summary>
    private async Task<string> SavePeriodicallyAsync(string savedId, CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(PositionSaveInterval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                savedId = await SavePositionAsync(Volatile.Read(ref _taken), savedId).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
            // Shutting down: the caller saves the final position.
        }

        return savedId;
    }

    /// <summary>How often the position is written while entries come in (and once more on shutdown).</summary>
    public static TimeSpan PositionSaveInterval { get; } = TimeSpan.FromMilliseconds(500);

    private async Task<string> StartPositionAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            try
            {
                var stored = await store.GetAsync(CacheKeys.SdkMetricsPosition, cancellationToken).ConfigureAwait(false);
                if (stored is { Length: > 0 })
                {
                    return System.Text.Encoding.ASCII.GetString(stored);
                }

                // $ fixed to an id once: reading from $ again after a Redis error would skip what Replicas wrote
                // meanwhile (after a restart of Redis, the entries they kept while it was away).
                return await streams.NewestIdAsync(Stream, cancellationToken).ConfigureAwait(false);
            }
            catch (StoreUnavailableException ex)
            {
                LogReadFailed(logger, timings.Value.MetricsStreamBackoff, ex.Message);
                await Task.Delay(timings.Value.MetricsStreamBackoff, time, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Writes the id of the last entry handed to the parsers; returns what is now saved.</summary>
    private async Task<string> SavePositionAsync(string lastId, string savedId)
    {
        if (lastId == savedId || lastId == MessageStreamPosition.NewOnly)
        {
            return savedId;
        }

        try
        {
            // Not cancellable: the last save runs while the host stops.
            await store.SetAsync([new(CacheKeys.SdkMetricsPosition, System.Text.Encoding.ASCII.GetBytes(lastId))], CancellationToken.None).ConfigureAwait(false);
            return lastId;
        }
        catch (StoreUnavailableException ex)
        {
            LogReadFailed(logger, TimeSpan.Zero, ex.Message);
            return savedId;
        }
    }

    private async Task ParseAsync(ChannelReader<MessageStreamEntry> entries)
    {
        try
        {
            // Not the stopping token: what was read is parsed before the forwarder's last flush.
            await foreach (var entry in entries.ReadAllAsync(CancellationToken.None).ConfigureAwait(false))
            {
                if (Parse(entry) is not { } parsed)
                {
                    streamMetrics.Received(MessageStreamMetrics.PrimaryMetricsConsumer, Stream, "err_parsing_message");
                    continue;
                }

                aggregator.Add(parsed.EnvironmentId, new MetricsRequest { MetricsData = parsed.MetricsData, TargetData = parsed.TargetData }, entry.Payload.Length);
                streamMetrics.Received(MessageStreamMetrics.PrimaryMetricsConsumer, Stream, "false");
            }
        }
        catch (OperationCanceledException)
        {
            // Shutting down.
        }
    }

    private SdkMetricsStreamEntry? Parse(MessageStreamEntry entry)
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

    [LoggerMessage(EventId = LogEventIds.PrimaryMetrics.ReadCrashed, Level = LogLevel.Error, Message = "Reading stream:sdk_metrics failed unexpectedly; resuming in {Backoff}")]
    private static partial void LogReadCrashed(ILogger logger, TimeSpan backoff, Exception exception);

    [LoggerMessage(EventId = LogEventIds.PrimaryMetrics.ReadFailed, Level = LogLevel.Warning, Message = "Reading stream:sdk_metrics failed; resuming in {Backoff}: {Reason}")]
    private static partial void LogReadFailed(ILogger logger, TimeSpan backoff, string reason);

    [LoggerMessage(EventId = LogEventIds.PrimaryMetrics.BadEntry, Level = LogLevel.Warning, Message = "Skipped unreadable stream:sdk_metrics entry {Id}: {Reason}")]
    private static partial void LogBadEntry(ILogger logger, string id, string reason);
}

using System.Text.Json;
using System.Threading.Channels;
using FfProxy.Core.Caching;
using FfProxy.Core.Configuration;
using FfProxy.Core.Domain;
using FfProxy.Core.Hosting;
using FfProxy.Core.Messaging;
using FfProxy.Core.Sdk;

namespace FfProxy.Replica.Replication;

/// <summary>
/// A Replica's metrics intake: each accepted payload becomes one <c>stream:sdk_metrics</c> entry (MAXLEN
/// METRICS_STREAM_MAX_LEN) for the Primary to aggregate and forward (spec §4.3). While Redis is away entries wait in
/// a buffer of at most METRICS_STREAM_MAX_LEN entries (the oldest give way, as the stream itself would trim them),
/// written by <see cref="MetricsBufferDrain"/> when Redis answers again.
/// </summary>
internal sealed partial class MetricsStreamSink(IMessageStreams streams, MessageStreamMetrics streamMetrics, ProxyOptions options, ILogger<MetricsStreamSink> logger)
    : ISdkMetricsSink
{
    private readonly Channel<byte[]> _waiting = Channel.CreateBounded<byte[]>(
        new BoundedChannelOptions(Math.Max(1, options.MetricsStreamMaxLen)) { FullMode = BoundedChannelFullMode.DropOldest });

    /// <summary>Entries waiting for Redis.</summary>
    public int Waiting => _waiting.Reader.Count;

    public async ValueTask AcceptAsync(string environment, MetricsRequest metrics, int payloadBytes, CancellationToken cancellationToken)
    {
        var entry = new SdkMetricsStreamEntry { EnvironmentId = environment, MetricsData = metrics.MetricsData ?? [], TargetData = metrics.TargetData ?? [] };
        var payload = JsonSerializer.SerializeToUtf8Bytes(entry, ProxyJsonContext.Default.SdkMetricsStreamEntry);
        if (_waiting.Reader.Count > 0)
        {
            // Keep the order: older entries are still waiting.
            Buffer(environment, payload, "entries are waiting for Redis");
            return;
        }

        try
        {
            await AppendAsync(payload, cancellationToken).ConfigureAwait(false);
        }
        catch (StoreUnavailableException ex)
        {
            Buffer(environment, payload, ex.Message);
        }
    }

    /// <summary>Writes the waiting entries in order; stops at the first failure (the entry stays first in line).</summary>
    public async Task DrainAsync(CancellationToken cancellationToken)
    {
        var written = 0;
        while (_waiting.Reader.TryPeek(out var payload))
        {
            await AppendAsync(payload, cancellationToken).ConfigureAwait(false);
            _waiting.Reader.TryRead(out _);
            written++;
        }

        if (written > 0)
        {
            LogDrained(logger, written);
        }
    }

    private async Task AppendAsync(byte[] payload, CancellationToken cancellationToken)
    {
        try
        {
            await streams.AppendAsync(CacheKeys.SdkMetricsStream, payload, options.MetricsStreamMaxLen, cancellationToken).ConfigureAwait(false);
            streamMetrics.Published(MessageStreamMetrics.ReplicaMetricsProducer, CacheKeys.SdkMetricsStream, "false");
        }
        catch (StoreUnavailableException)
        {
            streamMetrics.Published(MessageStreamMetrics.ReplicaMetricsProducer, CacheKeys.SdkMetricsStream, "err_publishing");
            throw;
        }
    }

    private void Buffer(string environment, byte[] payload, string reason)
    {
        _waiting.Writer.TryWrite(payload);
        LogBuffered(logger, environment, reason);
    }

    [LoggerMessage(EventId = LogEventIds.ReplicaReplication.Buffered, Level = LogLevel.Warning, Message = "Metrics of environment {Environment} wait for Redis: {Reason}")]
    private static partial void LogBuffered(ILogger logger, string environment, string reason);

    [LoggerMessage(EventId = LogEventIds.ReplicaReplication.Drained, Level = LogLevel.Information, Message = "Wrote {Count} waiting metrics entries to stream:sdk_metrics")]
    private static partial void LogDrained(ILogger logger, int count);
}

/// <summary>Writes the metrics a Replica kept while Redis was away, once a second until they are all written.</summary>
internal sealed partial class MetricsBufferDrain(MetricsStreamSink sink, TimeProvider time, ILogger<MetricsBufferDrain> logger) : SupervisedLoop
{
    public static TimeSpan Interval { get; } = TimeSpan.FromSeconds(1);

    protected override TimeProvider Time => time;

    protected override ILogger Logger => logger;

    protected override async Task RunAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Interval, time);
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
        {
            if (sink.Waiting == 0)
            {
                continue;
            }

            try
            {
                await sink.DrainAsync(stoppingToken).ConfigureAwait(false);
            }
            catch (StoreUnavailableException)
            {
                // Still away; the next tick tries again.
            }
        }
    }
}

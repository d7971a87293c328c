using System.Text.Json;
using FfProxy.Core.Caching;
using FfProxy.Core.Configuration;
using FfProxy.Core.Domain;
using FfProxy.Core.Messaging;
using FfProxy.Core.Sdk;

namespace FfProxy.Replica.Replication;

/// <summary>
/// A Replica's metrics intake: each accepted payload becomes one <c>stream:sdk_metrics</c> entry (MAXLEN
/// METRICS_STREAM_MAX_LEN) for the Primary to aggregate and forward (spec §4.3). While Redis is away the payload
/// is dropped with a log line: metrics are best effort, and an SDK must not retry them.
/// </summary>
public sealed partial class MetricsStreamSink(IMessageStreams streams, StreamMetrics streamMetrics, ProxyOptions options, ILogger<MetricsStreamSink> logger)
    : ISdkMetricsSink
{
    public async ValueTask AcceptAsync(string environment, MetricsRequest metrics, int payloadBytes, CancellationToken cancellationToken)
    {
        var entry = new SdkMetricsStreamEntry { EnvironmentId = environment, MetricsData = metrics.MetricsData ?? [], TargetData = metrics.TargetData ?? [] };
        try
        {
            await streams.AppendAsync(CacheKeys.SdkMetricsStream, JsonSerializer.SerializeToUtf8Bytes(entry, ProxyJsonContext.Default.SdkMetricsStreamEntry),
                options.MetricsStreamMaxLen, cancellationToken).ConfigureAwait(false);
            streamMetrics.Published(StreamMetrics.ReplicaMetricsProducer, CacheKeys.SdkMetricsStream, "false");
        }
        catch (StoreUnavailableException ex)
        {
            streamMetrics.Published(StreamMetrics.ReplicaMetricsProducer, CacheKeys.SdkMetricsStream, "err_publishing");
            LogDropped(logger, environment, ex.Message);
        }
    }

    [LoggerMessage(EventId = 5101, Level = LogLevel.Warning, Message = "Metrics of environment {Environment} dropped: {Reason}")]
    private static partial void LogDropped(ILogger logger, string environment, string reason);
}

using System.Text.Json;
using FfProxy.Core.Caching;
using FfProxy.Core.Domain;
using Microsoft.Extensions.Logging;

namespace FfProxy.Core.Messaging;

/// <summary>
/// The Primary's side of the Replica fan-out: every change SDKs must hear of is appended to
/// <c>proxy:sse_events</c> (spec §4.3), where every Replica reads it and tells its own SDK streams.
/// </summary>
public sealed partial class ReplicaEventSink(IMessageStreams streams, StreamMetrics metrics, ILogger<ReplicaEventSink> logger) : IChangeSink
{
    /// <summary>MAXLEN of the event and control streams, as in the Go proxy.</summary>
    public const int StreamMaxLength = 1000;

    public async ValueTask PublishAsync(StreamMessage message, CancellationToken cancellationToken)
    {
        if (message is not ({ Domain: StreamEvents.FlagDomain or StreamEvents.SegmentDomain }
            or { Event: StreamEvents.EnvironmentsRemoved or StreamEvents.ApiKeyRemoved }))
        {
            return;
        }

        try
        {
            await streams.AppendAsync(CacheKeys.SseEventsStream, JsonSerializer.SerializeToUtf8Bytes(message, ProxyJsonContext.Default.StreamMessage),
                StreamMaxLength, cancellationToken).ConfigureAwait(false);
            metrics.Published(StreamMetrics.PrimaryToReplica, CacheKeys.SseEventsStream, "false");
        }
        catch (StoreUnavailableException ex)
        {
            // The store already holds the change; Replicas reload what they missed when Redis is back.
            metrics.Published(StreamMetrics.PrimaryToReplica, CacheKeys.SseEventsStream, "err_publishing");
            LogPublishFailed(logger, message.Event, message.Environment, ex);
        }
    }

    [LoggerMessage(EventId = 1601, Level = LogLevel.Warning, Message = "Could not append {Event} event of environment {Environment} to proxy:sse_events")]
    private static partial void LogPublishFailed(ILogger logger, string @event, string environment, Exception exception);
}

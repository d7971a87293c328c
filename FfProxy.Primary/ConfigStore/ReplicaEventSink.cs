using System.Text.Json;
using FfProxy.Core.Caching;
using FfProxy.Core.Domain;
using FfProxy.Core.Messaging;

namespace FfProxy.Primary.ConfigStore;

/// <summary>
/// The Primary's side of the Replica fan-out: every change SDKs must hear of (<see cref="ChangeForwarding"/>) is
/// appended to <c>proxy:sse_events</c> (spec §4.3), where every Replica reads it and tells its own SDK streams.
/// </summary>
internal sealed partial class ReplicaEventSink(IMessageStreams streams, MessageStreamMetrics metrics, ILogger<ReplicaEventSink> logger) : IChangeSink
{
    /// <summary>MAXLEN of the event and control streams, as in the Go proxy.</summary>
    public const int StreamMaxLength = 1000;

    public ValueTask PublishAsync(StreamMessage message, CancellationToken cancellationToken) =>
        PublishAllAsync([message], cancellationToken);

    /// <summary>
    /// Issues every append before awaiting any: the Redis client pipelines them on one connection, in order, so a
    /// re-sync's events cost one round trip instead of one each.
    /// </summary>
    public async ValueTask PublishAllAsync(IReadOnlyList<StreamMessage> messages, CancellationToken cancellationToken)
    {
        var pending = new List<(StreamMessage Message, Task Append)>(messages.Count);
        foreach (var message in messages)
        {
            if (ChangeForwarding.ReachesReplicas(message))
            {
                pending.Add((message, streams.AppendAsync(CacheKeys.SseEventsStream,
                    JsonSerializer.SerializeToUtf8Bytes(message, ProxyJsonContext.Default.StreamMessage), StreamMaxLength, cancellationToken)));
            }
        }

        foreach (var (message, append) in pending)
        {
            try
            {
                await append.ConfigureAwait(false);
                metrics.Published(MessageStreamMetrics.PrimaryToReplica, CacheKeys.SseEventsStream, "false");
            }
            catch (StoreUnavailableException ex)
            {
                // The store already holds the change; Replicas reload what they missed when Redis is back.
                metrics.Published(MessageStreamMetrics.PrimaryToReplica, CacheKeys.SseEventsStream, "err_publishing");
                LogPublishFailed(logger, message.Event, message.Environment, ex);
            }
        }
    }

    [LoggerMessage(EventId = LogEventIds.PrimaryConfigStore.PublishFailed, Level = LogLevel.Warning, Message = "Could not append {Event} event of environment {Environment} to proxy:sse_events")]
    private static partial void LogPublishFailed(ILogger logger, string @event, string environment, Exception exception);
}

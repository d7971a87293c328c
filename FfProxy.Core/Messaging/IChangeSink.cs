using FfProxy.Core.Domain;

namespace FfProxy.Core.Messaging;

/// <summary>
/// Receives change notifications after the store and this process's snapshots hold the change: this
/// process's SDK streams, and (on an online Primary) the <c>proxy:sse_events</c> stream for Replicas.
/// </summary>
public interface IChangeSink
{
    ValueTask PublishAsync(StreamMessage message, CancellationToken cancellationToken);

    /// <summary>Several changes in order; a sink that talks to Redis sends them in one round trip.</summary>
    async ValueTask PublishAllAsync(IReadOnlyList<StreamMessage> messages, CancellationToken cancellationToken)
    {
        foreach (var message in messages)
        {
            await PublishAsync(message, cancellationToken).ConfigureAwait(false);
        }
    }
}

using FfProxy.Core.Domain;
using FfProxy.Core.Messaging;

namespace FfProxy.Core.Sdk;

/// <summary>
/// Delivers changes to this process's SDK streams by the Go proxy's forwarding rule (spec §4.3): flag and
/// group events go to the environment's streams; key and environment removals end the affected streams.
/// </summary>
public sealed class HubChangeSink(StreamHub hub) : IChangeSink
{
    public ValueTask PublishAsync(StreamMessage message, CancellationToken cancellationToken)
    {
        switch (message)
        {
            case { Domain: StreamEvents.FlagDomain or StreamEvents.SegmentDomain }:
                hub.Publish(message);
                break;
            case { Event: StreamEvents.EnvironmentsRemoved or StreamEvents.ApiKeyRemoved }:
                if (message.Environment.Length > 0)
                {
                    hub.Publish(message);
                }

                foreach (var environment in message.Environments ?? [])
                {
                    hub.Close(environment);
                }

                break;
        }

        return ValueTask.CompletedTask;
    }
}

using FfProxy.Core.Domain;
using FfProxy.Core.Messaging;

namespace FfProxy.Core.Sdk;

/// <summary>
/// Delivers changes to this process's SDK streams by the forwarding rule of <see cref="ChangeForwarding"/>.
/// </summary>
internal sealed class HubChangeSink(SdkStreamHub hub) : IChangeSink
{
    public ValueTask PublishAsync(StreamMessage message, CancellationToken cancellationToken)
    {
        if (ChangeForwarding.IsItemChange(message))
        {
            hub.Publish(message);
        }
        else if (ChangeForwarding.EndsStreams(message))
        {
            if (message.Environment.Length > 0)
            {
                hub.Publish(message);
            }

            foreach (var environment in message.Environments ?? [])
            {
                hub.Close(environment);
            }
        }

        return ValueTask.CompletedTask;
    }
}

using FfProxy.Core.Domain;

namespace FfProxy.Core.Messaging;

/// <summary>
/// The Go proxy's forwarding rule (spec §4.3), written once for every sink and for Replicas: flag and group events
/// go to the environment's SDK streams; SDK-key and environment removals end the affected streams; both travel to
/// Replicas on <c>proxy:sse_events</c>. Nothing else reaches SDKs.
/// </summary>
public static class ChangeForwarding
{
    /// <summary>A flag or target-group event, sent as is to the SDK streams of its environment.</summary>
    public static bool IsItemChange(StreamMessage message) =>
        message.Domain is StreamEvents.FlagDomain or StreamEvents.SegmentDomain;

    /// <summary>A removal that ends the SDK streams of the environments it names.</summary>
    public static bool EndsStreams(StreamMessage message) =>
        message.Event is StreamEvents.EnvironmentsRemoved or StreamEvents.ApiKeyRemoved;

    /// <summary>What the Primary appends to <c>proxy:sse_events</c> for Replicas.</summary>
    public static bool ReachesReplicas(StreamMessage message) => IsItemChange(message) || EndsStreams(message);
}

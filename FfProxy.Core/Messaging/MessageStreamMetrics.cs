using System.Diagnostics.Metrics;
using System.Collections.Concurrent;

namespace FfProxy.Core.Messaging;

/// <summary>
/// The <c>&lt;stream&gt;_messages_published</c>, <c>_messages_received</c> and <c>_subscription_requests</c>
/// counters of spec §7, named after each stream's role as in the Go proxy, labelled by topic and error.
/// </summary>
public sealed class MessageStreamMetrics
{
    public const string MeterName = "FfProxy.Streams";

    public const string SaasToPrimary = "ff_proxy_saas_to_primary_sse_consumer";
    public const string PrimaryToReplica = "ff_proxy_primary_to_replica_sse_producer";
    public const string PrimaryMetricsConsumer = "ff_proxy_primary_metrics_stream_consumer";
    public const string ReplicaConsumer = "ff_proxy_replica_sse_consumer";
    public const string ReplicaMetricsProducer = "ff_proxy_replica_metrics_stream_producer";

    private readonly Meter _meter;
    private readonly ConcurrentDictionary<string, Counter<long>> _counters = new(StringComparer.Ordinal);

    public MessageStreamMetrics(IMeterFactory meterFactory) => _meter = meterFactory.Create(MeterName);

    public void Published(string stream, string topic, string error) => Count(stream + "_messages_published", topic, error);

    public void Received(string stream, string topic, string error) => Count(stream + "_messages_received", topic, error);

    public void Subscribed(string stream, string topic) =>
        _counters.GetOrAdd(stream + "_subscription_requests", name => _meter.CreateCounter<long>(name))
            .Add(1, new KeyValuePair<string, object?>("topic", topic));

    private void Count(string name, string topic, string error) =>
        _counters.GetOrAdd(name, n => _meter.CreateCounter<long>(n)).Add(1, new("topic", topic), new("error", error));
}

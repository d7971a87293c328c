using FfProxy.Core.Domain;

namespace FfProxy.Core.Sdk;

/// <summary>
/// Where accepted SDK metrics go: the Primary aggregates them for SaaS, a Replica appends them to
/// <c>stream:sdk_metrics</c>, an offline proxy keeps only the counters.
/// </summary>
public interface ISdkMetricsSink
{
    ValueTask AcceptAsync(string environment, MetricsRequest metrics, int payloadBytes, CancellationToken cancellationToken);
}

/// <summary>Offline mode: metrics are counted on intake and go nowhere else (spec §3.7).</summary>
internal sealed class UnforwardedMetricsSink : ISdkMetricsSink
{
    public ValueTask AcceptAsync(string environment, MetricsRequest metrics, int payloadBytes, CancellationToken cancellationToken) =>
        ValueTask.CompletedTask;
}

using FfProxy.Core.Domain;
using FfProxy.Core.Sdk;

namespace FfProxy.Primary.Metrics;

/// <summary>The Primary's intake of <c>POST /metrics/{env}</c>: into the aggregation queue, bytes counted for the 1 MiB trigger.</summary>
internal sealed class AggregatingMetricsSink(MetricsAggregator aggregator) : ISdkMetricsSink
{
    public ValueTask AcceptAsync(string environment, MetricsRequest metrics, int payloadBytes, CancellationToken cancellationToken)
    {
        aggregator.Add(environment, metrics, payloadBytes);
        return ValueTask.CompletedTask;
    }
}

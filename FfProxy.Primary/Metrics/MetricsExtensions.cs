using FfProxy.Core.Configuration;
using FfProxy.Core.Sdk;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace FfProxy.Primary.Metrics;

internal static class MetricsExtensions
{
    /// <summary>
    /// The online Primary's forwarding of SDK metrics (its own intake and, with Redis, what Replicas put on
    /// <c>stream:sdk_metrics</c>). Needs the SaaS connection
    /// (<see cref="PrimaryExtensions.AddSaasConnection"/>); not for offline mode, where metrics go nowhere.
    /// </summary>
    public static IHostApplicationBuilder AddMetricsForwarding(this IHostApplicationBuilder builder, ProxyOptions options)
    {
        var services = builder.Services;
        services.TryAddSingleton<MetricsAggregator>();

        // The forwarder runs even when METRIC_POST_DURATION=0, only to say that forwarding is off.
        services.AddHostedService<MetricsForwarder>();
        if (options.MetricPostDuration > 0)
        {
            // Only while something drains the queue: with forwarding off, intake keeps the default sink that
            // accepts and forgets, so nothing accumulates for ever.
            services.Replace(ServiceDescriptor.Singleton<ISdkMetricsSink, AggregatingMetricsSink>());
            if (!options.InMemoryStore)
            {
                services.AddHostedService<SdkMetricsStreamReader>();
            }
        }

        return builder;
    }
}

using FfProxy.Core.Configuration;
using FfProxy.Core.Sdk;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace FfProxy.Primary.Metrics;

public static class MetricsExtensions
{
    /// <summary>
    /// The online Primary's forwarding of SDK metrics (its own intake and, with Redis, what Replicas put on
    /// <c>stream:sdk_metrics</c>) and, with FORWARD_TARGETS, of targets.
    /// </summary>
    public static WebApplicationBuilder AddMetricsForwarding(this WebApplicationBuilder builder, ProxyOptions options)
    {
        var services = builder.Services;
        services.TryAddSingleton<MetricsAggregator>();
        services.Replace(ServiceDescriptor.Singleton<ISdkMetricsSink, AggregatingMetricsSink>());
        services.AddHostedService<MetricsForwarder>();
        if (!options.InMemoryStore)
        {
            services.AddHostedService<SdkMetricsStreamReader>();
        }

        if (options.ForwardTargets)
        {
            services.TryAddSingleton<SaasTargetForwarder>();
            services.Replace(ServiceDescriptor.Singleton<ITargetForwarder>(sp => sp.GetRequiredService<SaasTargetForwarder>()));
            services.AddHostedService(sp => sp.GetRequiredService<SaasTargetForwarder>());
        }

        return builder;
    }
}

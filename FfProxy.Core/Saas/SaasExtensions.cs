using FfProxy.Core.Configuration;
using FfProxy.Core.Sdk;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace FfProxy.Core.Saas;

/// <summary>What of SaaS both roles may use.</summary>
public static class SaasExtensions
{
    /// <summary>
    /// With FORWARD_TARGETS (and not offline, spec §3.8), targets seen at <c>/client/auth</c> go to SaaS from this
    /// process; otherwise they reach SaaS only as <c>targetData</c> in forwarded metrics.
    /// </summary>
    public static IHostApplicationBuilder AddTargetForwarding(this IHostApplicationBuilder builder, ProxyOptions options)
    {
        var services = builder.Services;
        services.TryAddSingleton<SaasRequestMetrics>();
        if (!options.ForwardTargets || options.Offline)
        {
            return builder;
        }

        services.TryAddSingleton(TimeProvider.System);
        services.AddHttpClient(SaasTargetForwarder.HttpClientName).AddSingleAttempt("saas-targets", static _ => SaasTargetForwarder.Timeout);
        services.TryAddSingleton<SaasTargetForwarder>();
        services.Replace(ServiceDescriptor.Singleton<ITargetForwarder>(sp => sp.GetRequiredService<SaasTargetForwarder>()));
        services.AddHostedService(sp => sp.GetRequiredService<SaasTargetForwarder>());
        return builder;
    }
}

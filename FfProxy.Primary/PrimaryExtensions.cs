using FfProxy.Core.Configuration;
using FfProxy.Core.Messaging;
using FfProxy.Core.Saas;
using FfProxy.Primary.ConfigStore;
using FfProxy.Primary.Metrics;
using FfProxy.Primary.Offline;
using FfProxy.Primary.Saas;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace FfProxy.Primary;

/// <summary>Registration of what makes this process the Primary.</summary>
internal static class PrimaryExtensions
{
    /// <summary>Where configuration comes from: the offline directory, or Harness SaaS.</summary>
    public static WebApplicationBuilder AddConfigSource(this WebApplicationBuilder builder, ProxyOptions options)
    {
        builder.Services.TryAddSingleton<ConfigWriter>();
        if (!options.InMemoryStore)
        {
            // Replicas follow through Redis: change events on proxy:sse_events, the stream state in
            // ffproxy_saas_stream_health and on the control stream (offline, the "stream" is always up).
            builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IChangeSink, ReplicaEventSink>());
            builder.Services.TryAddSingleton<SaasMetrics>();
            builder.Services.TryAddSingleton<AccountStreamState>();
            builder.Services.AddOptions<SaasTimings>().Bind(builder.Configuration.GetSection(SaasTimings.Section));
            builder.Services.AddHostedService<AccountStreamStateBroadcaster>();
        }

        if (options.Offline)
        {
            builder.Services.AddSingleton<OfflineConfigSource>();
            builder.Services.AddSingleton<IStoreRepopulator>(sp => sp.GetRequiredService<OfflineConfigSource>());
            builder.Services.AddHostedService(sp => sp.GetRequiredService<OfflineConfigSource>());
            return builder;
        }

        builder.AddSaasConnection();
        builder.Services.AddSingleton<AccountStreamListener>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<AccountStreamListener>());
        if (options.InMemoryStore)
        {
            builder.Services.AddHostedService<AccountStreamStateBroadcaster>();
        }

        builder.AddMetricsForwarding(options);
        return builder;
    }

    /// <summary>
    /// The SaaS client and the state shared by the workers that use it. Requests go through ServiceDefaults'
    /// resilience pipelines (<see cref="HttpResilience"/>); the account stream has its own client without one,
    /// as it is meant to stay open.
    /// </summary>
    public static WebApplicationBuilder AddSaasConnection(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddOptions<SaasTimings>().Bind(builder.Configuration.GetSection(SaasTimings.Section));
        services.TryAddSingleton<SaasMetrics>();
        services.TryAddSingleton<SaasRequestMetrics>();
        services.TryAddSingleton<ProxyTokenHolder>();
        services.TryAddSingleton<HarnessSaasClient>();
        services.TryAddSingleton<AccountSync>();
        services.TryAddSingleton<InventoryPersistence>();
        services.AddHostedService(sp => sp.GetRequiredService<InventoryPersistence>());
        services.TryAddSingleton<IStoreRepopulator>(sp => sp.GetRequiredService<AccountSync>());
        services.TryAddSingleton<AccountStreamState>();

        services.AddHttpClient(HarnessSaasClient.HttpClientName)
            .AddRetryingRequests("saas", static sp => sp.GetRequiredService<IOptions<SaasTimings>>().Value.RequestTimeout);
        services.AddHttpClient(HarnessSaasClient.NoRetryHttpClientName)
            .AddSingleAttempt("saas-no-retry", static sp => sp.GetRequiredService<IOptions<SaasTimings>>().Value.RequestTimeout);
        services.AddHttpClient(AccountStreamListener.HttpClientName, client => client.Timeout = Timeout.InfiniteTimeSpan);
        return builder;
    }
}

/// <summary>Names this assembly's entry point for hosts in tests (two roles' <c>Program</c> types would clash).</summary>
public sealed class PrimaryMarker;

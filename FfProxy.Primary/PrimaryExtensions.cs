using System.Security.Cryptography.X509Certificates;
using FfProxy.Core.Configuration;
using FfProxy.Core.Messaging;
using FfProxy.Primary.Metrics;
using FfProxy.Primary.Offline;
using FfProxy.Primary.Saas;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Http.Resilience;
using Microsoft.Extensions.Options;
using Polly;

namespace FfProxy.Primary;

/// <summary>Registration of what makes this process the Primary.</summary>
public static class PrimaryExtensions
{
    /// <summary>
    /// Listens on PORT (default 7000) and PROMETHEUS_PORT unless the host supplied URLs (Aspire, tests) and
    /// PORT was not set; serves HTTPS from TLS_CERT/TLS_KEY when TLS_ENABLED.
    /// </summary>
    public static WebApplicationBuilder AddListeners(this WebApplicationBuilder builder, ProxyOptions options)
    {
        var hostUrls = !string.IsNullOrEmpty(builder.Configuration["urls"]) || !string.IsNullOrEmpty(builder.Configuration["http_ports"]);
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Limits.KeepAliveTimeout = TimeSpan.FromSeconds(60);
            if (hostUrls && !options.PortExplicit)
            {
                return;
            }

            kestrel.ListenAnyIP(options.Port, listen =>
            {
                if (options.TlsEnabled)
                {
                    listen.UseHttps(X509Certificate2.CreateFromPemFile(options.TlsCert, options.TlsKey));
                }
            });
            if (options.PrometheusPort != options.Port)
            {
                kestrel.ListenAnyIP(options.PrometheusPort);
            }
        });
        return builder;
    }

    /// <summary>Where configuration comes from: the offline directory, or Harness SaaS.</summary>
    public static WebApplicationBuilder AddConfigSource(this WebApplicationBuilder builder, ProxyOptions options)
    {
        if (options.Offline)
        {
            builder.Services.AddSingleton<OfflineConfigSource>();
            builder.Services.AddHostedService(sp => sp.GetRequiredService<OfflineConfigSource>());
            return builder;
        }

        builder.AddSaasConnection();
        builder.Services.AddSingleton<AccountStreamListener>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<AccountStreamListener>());
        builder.Services.AddHostedService<SaasStreamStateBroadcaster>();
        builder.AddMetricsForwarding(options);
        if (!options.InMemoryStore)
        {
            // Replicas learn of changes through proxy:sse_events.
            builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IChangeSink, ReplicaEventSink>());
        }

        return builder;
    }

    /// <summary>
    /// The SaaS client and the state shared by the workers that use it. Requests go through a resilience
    /// pipeline (per-attempt timeout, retries with jitter on transient failures only: never on other 4xx);
    /// the account stream has its own client without either, as it is meant to stay open.
    /// </summary>
    public static WebApplicationBuilder AddSaasConnection(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddOptions<SaasTimings>().Bind(builder.Configuration.GetSection(SaasTimings.Section));
        services.TryAddSingleton<SaasMetrics>();
        services.TryAddSingleton<ProxyTokenHolder>();
        services.TryAddSingleton<HarnessSaasClient>();
        services.TryAddSingleton<AccountSync>();
        services.TryAddSingleton<SaasStreamState>();

        services.AddHttpClient(HarnessSaasClient.HttpClientName)
            .AddResilienceHandler("saas", static (pipeline, context) =>
            {
                var timings = context.ServiceProvider.GetRequiredService<IOptions<SaasTimings>>().Value;
                pipeline.AddRetry(new HttpRetryStrategyOptions
                {
                    MaxRetryAttempts = 3,
                    BackoffType = DelayBackoffType.Exponential,
                    UseJitter = true,
                    Delay = TimeSpan.FromMilliseconds(500),
                });
                pipeline.AddTimeout(timings.RequestTimeout);
            });
        services.AddHttpClient(AccountStreamListener.HttpClientName, client => client.Timeout = Timeout.InfiniteTimeSpan);

        // The Proxy Key travels in /proxy/config's query string: request URIs are never logged.
        builder.Logging.AddFilter("System.Net.Http.HttpClient", LogLevel.Warning);
        return builder;
    }
}

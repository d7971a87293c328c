using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// What every FfProxy process shares: OpenTelemetry metrics and traces (Prometheus scrape on
/// <c>/metrics</c>, OTLP when configured), liveness, service discovery and HTTP client resilience.
/// </summary>
public static class ServiceDefaultsExtensions
{
    /// <summary>Meters exported to Prometheus: FfProxy's own (spec §7 names) and the framework's.</summary>
    public const string FfProxyMeters = "FfProxy*";

    private const string LiveTag = "live";
    private const string HostingDiagnostics = "Microsoft.AspNetCore.Hosting.Diagnostics";

    /// <param name="builder">The role's host builder.</param>
    /// <param name="frameworkRequestMetrics">
    /// Whether the framework's own per-request series are exported: ASP.NET Core's (<c>http_server_request_duration</c>,
    /// routing, authorization, Kestrel) and HttpClient's (<c>http_client_request_duration</c>, connections). Every role
    /// says no: spec §7's <c>ff_proxy_http_requests_*</c> series count each SDK request where it is served (the Gateway
    /// only forwards it to a Replica that counts it), the Primary's calls to SaaS have their own spec §7 series, and
    /// the framework's instruments cost tagged histogram updates on every request.
    /// </param>
    public static TBuilder AddServiceDefaults<TBuilder>(this TBuilder builder, bool frameworkRequestMetrics = true)
        where TBuilder : IHostApplicationBuilder
    {
        builder.ConfigureOpenTelemetry(frameworkRequestMetrics);

        // HttpClient logs request URIs at Information: the Proxy Key travels in /proxy/config's query string, so they
        // are never logged, in any role.
        builder.Logging.AddFilter("System.Net.Http.HttpClient", LogLevel.Warning);

        // The last net: a worker that fails anyway is logged by the host and the process keeps serving. Every
        // FfProxy worker restarts its own body after a failure (SupervisedLoop), so this should never be reached.
        builder.Services.Configure<HostOptions>(host => host.BackgroundServiceExceptionBehavior = BackgroundServiceExceptionBehavior.Ignore);
        builder.Services.AddHealthChecks().AddCheck("self", () => HealthCheckResult.Healthy(), [LiveTag]);
        builder.Services.AddServiceDiscovery();
        builder.Services.ConfigureHttpClientDefaults(http => http.AddServiceDiscovery());
        return builder;
    }

    public static TBuilder ConfigureOpenTelemetry<TBuilder>(this TBuilder builder, bool frameworkRequestMetrics = true)
        where TBuilder : IHostApplicationBuilder
    {
        builder.Logging.AddOpenTelemetry(logging =>
        {
            logging.IncludeFormattedMessage = true;
            logging.IncludeScopes = true;
        });

        builder.Services.AddOpenTelemetry()
            .WithMetrics(metrics => (frameworkRequestMetrics ? metrics.AddAspNetCoreInstrumentation().AddHttpClientInstrumentation() : metrics)
                .AddRuntimeInstrumentation()
                .AddMeter(FfProxyMeters)
                .AddPrometheusExporter(prometheus =>
                {
                    // Spec §7 names are Go client names: counters are not suffixed with _total.
                    prometheus.DisableTotalNameSuffixForCounters = true;
                    prometheus.ScrapeResponseCacheDurationMilliseconds = 0;
                    // The Go proxy's series carry only their own labels; otel_scope_name/version on every series
                    // would break queries that match label sets exactly (and each name has one meter here).
                    prometheus.ScopeInfoEnabled = false;
                }));

        // Spans are built only when there is somewhere to send them: without an exporter every request would pay
        // for activities nobody reads.
        var tracing = ExportsTraces(builder.Configuration);
        if (!tracing && string.IsNullOrWhiteSpace(builder.Configuration[$"Logging:LogLevel:{HostingDiagnostics}"]))
        {
            // ASP.NET Core starts an Activity and a log scope for every request whenever this category may log at all
            // (even at Critical, for log correlation). It only logs "Request starting/finished", which every role
            // keeps below its level, so without traces to correlate it costs per request for nothing.
            builder.Logging.AddFilter(HostingDiagnostics, LogLevel.None);
        }

        if (tracing)
        {
            builder.Services.AddOpenTelemetry()
                .WithTracing(tracing => SampleByDefault(tracing, builder.Configuration)
                    .AddSource(builder.Environment.ApplicationName)
                    .AddAspNetCoreInstrumentation(aspnet =>
                        // Long-lived SDK streams and scrapes would only add noise.
                        aspnet.Filter = context => !context.Request.Path.StartsWithSegments("/metrics", StringComparison.Ordinal)
                            || !HttpMethods.IsGet(context.Request.Method))
                    .AddHttpClientInstrumentation())
                .UseOtlpExporter();
        }

        return builder;
    }

    /// <summary>
    /// Whether this process exports traces (an OTLP endpoint is configured). Components that would trace on their own
    /// (the Aspire Redis client) follow it, so nothing builds spans, or holds per-request tracing state, for nobody.
    /// </summary>
    public static bool ExportsTraces(Microsoft.Extensions.Configuration.IConfiguration configuration) =>
        !string.IsNullOrWhiteSpace(configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]);

    /// <summary>
    /// Traces of <see cref="DefaultTraceSampleRatio"/> of the requests that arrive without a sampled parent
    /// (parent-based, so a trace an SDK or the Gateway started is followed whole). A full span per SDK request costs
    /// more than the request itself on the hot path. <c>OTEL_TRACES_SAMPLER</c> (and <c>OTEL_TRACES_SAMPLER_ARG</c>),
    /// read by the OpenTelemetry SDK itself, replace this default, e.g. <c>parentbased_always_on</c> to trace all.
    /// </summary>
    public const double DefaultTraceSampleRatio = 0.05;

    private static TracerProviderBuilder SampleByDefault(TracerProviderBuilder tracing, Microsoft.Extensions.Configuration.IConfiguration configuration) =>
        string.IsNullOrWhiteSpace(configuration["OTEL_TRACES_SAMPLER"])
            ? tracing.SetSampler(new ParentBasedSampler(new TraceIdRatioBasedSampler(DefaultTraceSampleRatio)))
            : tracing;

    /// <summary>
    /// Framework categories that log at Information once or twice per request (ASP.NET Core hosting's "Request
    /// starting/finished", YARP's "Proxying to") log from Warning up, unless <c>Logging__LogLevel__{category}</c>
    /// sets their level; at thousands of requests a second those lines cost more than the request.
    /// </summary>
    public static TBuilder QuietPerRequestLogs<TBuilder>(this TBuilder builder, params string[] categories)
        where TBuilder : IHostApplicationBuilder
    {
        foreach (var category in categories)
        {
            if (string.IsNullOrWhiteSpace(builder.Configuration[$"Logging:LogLevel:{category}"]))
            {
                builder.Logging.AddFilter(category, LogLevel.Warning);
            }
        }

        return builder;
    }

    /// <summary>
    /// <c>/alive</c> (liveness: the process answers) and the Prometheus scrape endpoint on <c>/metrics</c>,
    /// optionally only on <paramref name="prometheusPort"/>. <c>/health</c> belongs to each role.
    /// </summary>
    public static WebApplication MapDefaultEndpoints(this WebApplication app, int? prometheusPort = null)
    {
        app.MapHealthChecks("/alive", new HealthCheckOptions { Predicate = check => check.Tags.Contains(LiveTag) });
        var scrape = app.MapPrometheusScrapingEndpoint("/metrics");
        if (prometheusPort is { } port)
        {
            scrape.RequireHost($"*:{port}");
        }

        return app;
    }
}

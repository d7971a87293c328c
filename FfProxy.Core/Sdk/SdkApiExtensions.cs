using FfProxy.Core.Caching;
using FfProxy.Core.Configuration;
using FfProxy.Core.Evaluation;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace FfProxy.Core.Sdk;

/// <summary>Registers and maps the SDK-facing API shared by the Primary and the Replicas.</summary>
public static class SdkApiExtensions
{
    /// <summary>Tokens, snapshots, the SSE hub, evaluation and metrics intake.</summary>
    public static IHostApplicationBuilder AddSdkApi(this IHostApplicationBuilder builder)
    {
        var services = builder.Services;
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<ProxyStatus>();
        services.TryAddSingleton(ProxyRole.Primary); // a Replica replaces it (AddReplicaOptions), before or after this
        builder.AddSdkStreams();
        services.TryAddSingleton<TokenService>();
        services.TryAddSingleton<Evaluator>();
        services.TryAddSingleton<ISdkMetricsSink, UnforwardedMetricsSink>();
        services.TryAddSingleton<ITargetForwarder, NoTargetForwarding>();
        services.TryAddSingleton<TargetCache>();
        services.TryAddSingleton<TargetStoreBudget>();
        services.TryAddSingleton<AuthenticationRoutes>();
        services.TryAddSingleton<ConfigRoutes>();
        services.TryAddSingleton<EvaluationRoutes>();
        services.TryAddSingleton<SdkStreamRoutes>();
        services.TryAddSingleton<MetricsIntakeRoutes>();
        services.TryAddSingleton<HealthRoutes>();
        services.TryAddSingleton<Messaging.MessageStreamMetrics>();
        services.AddHttpClient(HealthHeartbeat.HttpClientName);
        services.AddHostedService<HealthHeartbeat>();

        return builder;
    }

    /// <summary>
    /// The SDK streams a process holds (the Primary and Replicas, and the Gateway's relay): the hub, one shared
    /// keep-alive ticker, and ending every stream at shutdown. The caller registers its <see cref="ProxyRole"/>.
    /// </summary>
    public static IHostApplicationBuilder AddSdkStreams(this IHostApplicationBuilder builder)
    {
        var services = builder.Services;
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<ProxyMetrics>();
        services.TryAddSingleton<SdkStreamHub>();
        // Undocumented tuning knob for tests; SDKs expect the Pushpin-compatible 15 s.
        var heartbeat = builder.Configuration.GetValue("FfProxy:StreamHeartbeatSeconds", 15.0);
        services.TryAddSingleton(new SdkStreamSettings(TimeSpan.FromSeconds(heartbeat)));
        services.AddHostedService<SdkStreamShutdown>();
        services.AddHostedService<SdkStreamHeartbeat>();
        return builder;
    }

    /// <summary>The Go proxy's middleware chain and every route of spec §2.1, each handled by its route group.</summary>
    public static WebApplication MapSdkApi(this WebApplication app)
    {
        var options = app.Services.GetRequiredService<ProxyOptions>();
        var status = app.Services.GetRequiredService<ProxyStatus>();
        app.Services.GetRequiredService<ProxyMetrics>().ObserveStreamHealth(() => status.StreamingAvailable);

        // Two steps around routing, each doing what took several middlewares: hygiene, CORS, errors and metrics
        // before; the SDK token check after (it needs the route's metadata).
        app.UseMiddleware<SdkEdgeMiddleware>();
        app.UseRouting();
        if (!options.BypassAuth)
        {
            app.UseMiddleware<SdkAuthenticationMiddleware>();
        }

        var routes = new SdkRouteTable(app, options.BypassAuth);
        var auth = app.Services.GetRequiredService<AuthenticationRoutes>();
        routes.Post("/client/auth", auth.Authenticate, authenticated: false, environmentScoped: false);

        var health = app.Services.GetRequiredService<HealthRoutes>();
        routes.Get("/health", health.GetHealth, authenticated: false, environmentScoped: false);

        var config = app.Services.GetRequiredService<ConfigRoutes>();
        routes.Get("/client/env/{environment_uuid}/feature-configs", config.GetFeatureConfigs);
        routes.Get("/client/env/{environment_uuid}/feature-configs/{identifier}", config.GetFeatureConfig);
        routes.Get("/client/env/{environment_uuid}/target-segments", config.GetSegments);
        routes.Get("/client/env/{environment_uuid}/target-segments/{identifier}", config.GetSegment);

        var evaluations = app.Services.GetRequiredService<EvaluationRoutes>();
        routes.Get("/client/env/{environment_uuid}/target/{target}/evaluations", evaluations.GetEvaluations);
        routes.Get("/client/env/{environment_uuid}/target/{target}/evaluations/{feature}", evaluations.GetEvaluation);

        var stream = app.Services.GetRequiredService<SdkStreamRoutes>();
        routes.Get("/stream", stream.Stream, authenticated: true, environmentScoped: false);

        var metrics = app.Services.GetRequiredService<MetricsIntakeRoutes>();
        routes.Post("/metrics/{environment_uuid}", metrics.PostMetrics);
        return app;
    }

    /// <summary>Maps one route with its Go metric label, its authentication and, for POSTs, the body limit.</summary>
    private sealed class SdkRouteTable(WebApplication app, bool bypassAuth)
    {
        public void Get(string template, RequestDelegate handler, bool authenticated = true, bool environmentScoped = true) =>
            Map(HttpMethods.Get, template, handler, authenticated, environmentScoped);

        public void Post(string template, RequestDelegate handler, bool authenticated = true, bool environmentScoped = true) =>
            Map(HttpMethods.Post, template, handler, authenticated, environmentScoped).WithMetadata(SdkBodyLimit.Instance);

        private IEndpointConventionBuilder Map(string method, string template, RequestDelegate handler, bool authenticated, bool environmentScoped)
        {
            var authenticatedHere = authenticated && !bypassAuth;
            return app.MapMethods(template, [method], handler).WithMetadata(SdkRoute.For(template, authenticatedHere, authenticatedHere && environmentScoped));
        }
    }
}

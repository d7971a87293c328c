using System.Text.Json;
using FfProxy.Core.Sdk;
using Yarp.ReverseProxy;
using Yarp.ReverseProxy.Configuration;
using Yarp.ReverseProxy.Forwarder;
using Yarp.ReverseProxy.Health;
using Yarp.ReverseProxy.LoadBalancing;
using Yarp.ReverseProxy.Model;

namespace FfProxy.Gateway;

/// <summary>
/// The Gateway's YARP configuration: every path the Gateway does not serve itself (<c>/alive</c>, its
/// <c>/metrics</c> scrape, <c>/gateway/health</c>) goes to the upstreams, whatever the method (all requests of one
/// SDK token to one upstream, <see cref="SdkTokenAffinity"/>; the rest round-robin), as Pushpin passed everything to
/// the Go proxy. So SDK routes, CORS preflights, <c>/health</c> and the Go proxy's 404/405 answers all come from a proxy, and the public port looks like one. Active <c>/health</c> checks
/// take a Replica that stops answering out, passive checks do so at once when a connection to it fails, and
/// requests without a body are sent again to another upstream when their connection fails before any response came
/// back. Stand-in for Pushpin (spec §9): SDK streams are held by the Gateway itself (<see cref="SdkStreamRelay"/>);
/// every forwarded request must end within a request timeout.
/// </summary>
internal static class SdkRouting
{
    public const string ClusterId = "sdk-upstreams";
    public const string GatewayHealthPath = "/gateway/health";
    private const string HealthRouteId = "health";

    /// <summary>YARP's id of the upstream at this position of <c>UPSTREAMS</c> (what <see cref="SdkTokenAffinity"/> hashes).</summary>
    public static string DestinationId(int index) => $"upstream-{index}";

    public static WebApplicationBuilder AddSdkRouting(this WebApplicationBuilder builder, GatewayOptions options)
    {
        RouteConfig Route(string id, string path) => new()
        {
            RouteId = id,
            ClusterId = ClusterId,
            Match = new RouteMatch { Path = path },
        };

        var cluster = new ClusterConfig
        {
            ClusterId = ClusterId,
            LoadBalancingPolicy = SdkTokenAffinity.PolicyName,
            Destinations = options.Upstreams.Select((address, i) => (address, i))
                .ToDictionary(d => DestinationId(d.i), d => new DestinationConfig { Address = d.address }),
            HealthCheck = new HealthCheckConfig
            {
                Active = new ActiveHealthCheckConfig
                {
                    Enabled = true,
                    Interval = options.HealthCheckInterval,
                    Timeout = TimeSpan.FromSeconds(3),
                    Policy = HealthCheckConstants.ActivePolicy.ConsecutiveFailures,
                    Path = "/health",
                },
                Passive = new PassiveHealthCheckConfig
                {
                    Enabled = true,
                    Policy = ConnectionFailurePolicy.PolicyName,
                    ReactivationPeriod = options.HealthCheckInterval * 2,
                },
            },
            // HTTP/1.1 over pooled keep-alive connections: per request it costs the least CPU of the transports the
            // forwarder offers (h2c adds framing, HPACK and flow control on both sides, and would have to be pinned
            // with RequestVersionExact since h2c has no upgrade here). YARP's default, HTTP/2 or lower, also ends
            // at HTTP/1.1 on http:// upstreams; saying so keeps an https:// upstream on the same footing.
            HttpRequest = new ForwarderRequestConfig
            {
                // Streams are held by SdkStreamRelay, so every forwarded request has an end: one whose upstream sends
                // nothing for RequestTimeout (it froze after accepting the request) gets 504. YARP's own pooled
                // timer, not ASP.NET Core's request timeouts, which cost a timer and a token source per request.
                ActivityTimeout = options.RequestTimeout,
                Version = System.Net.HttpVersion.Version11,
                VersionPolicy = HttpVersionPolicy.RequestVersionOrLower,
            },
        };

        builder.Services.AddReverseProxy()
            .LoadFromMemory(
            [
                Route(HealthRouteId, "/health"),
                Route("proxy", "/{**path}"),
            ],
            [cluster])
            .AddServiceDiscoveryDestinationResolver();

        // GET /stream is held here, not forwarded (SdkStreamRelay); other methods on /stream go to "proxy".
        builder.Services.AddSingleton(ProxyRole.Gateway);
        builder.AddSdkStreams();
        builder.Services.AddSingleton<SdkStreamRelay>();

        // A dead upstream is hidden: requests whose connection fails go to another one (UpstreamFailover.cs).
        builder.Services.AddSingleton(options);
        builder.Services.AddSingleton<UpstreamHealth>();
        builder.Services.AddSingleton<IPassiveHealthCheckPolicy, ConnectionFailurePolicy>();
        builder.Services.AddSingleton<SdkTokenAffinity>();
        builder.Services.AddSingleton<ILoadBalancingPolicy>(services => services.GetRequiredService<SdkTokenAffinity>());
        builder.Services.AddSingleton<IForwarderHttpClientFactory, FailoverForwarderClientFactory>();
        return builder;
    }

    /// <summary>
    /// Forwards to the upstreams. The proxy's <c>/health</c> comes from a healthy upstream; when none is healthy the
    /// Gateway answers it 503 with a JSON message itself, rather than let YARP try an upstream known to be down.
    /// </summary>
    public static WebApplication MapSdkProxy(this WebApplication app)
    {
        app.MapGet("/stream", app.Services.GetRequiredService<SdkStreamRelay>().Stream);
        app.MapReverseProxy(pipeline =>
        {
            pipeline.Use(async (context, next) =>
            {
                await next().ConfigureAwait(false);

                // YARP answers an upstream that went silent for RequestTimeout with an empty 504; say what happened.
                if (!context.Response.HasStarted && context.Features.Get<IForwarderErrorFeature>()?.Error is ForwarderError.RequestTimedOut)
                {
                    await WriteMessageAsync(context, StatusCodes.Status504GatewayTimeout, UpstreamTimedOut).ConfigureAwait(false);
                }
            });
            pipeline.Use((context, next) =>
            {
                var proxy = context.GetReverseProxyFeature();
                if (proxy.Route.Config.RouteId == HealthRouteId && Count(proxy.AllDestinations).Healthy == 0)
                {
                    return WriteMessageAsync(context, StatusCodes.Status503ServiceUnavailable, NoHealthyUpstream);
                }

                return next();
            });
            pipeline.UseSessionAffinity();
            pipeline.UseLoadBalancing();
            pipeline.UsePassiveHealthChecks();
        });
        return app;
    }

    /// <summary>
    /// The Gateway's own view at <see cref="GatewayHealthPath"/>: 200 while at least one upstream is not known to be
    /// unhealthy, else 503, with the counts so an operator sees how many Replicas serve.
    /// </summary>
    public static WebApplication MapGatewayHealth(this WebApplication app)
    {
        app.MapGet(GatewayHealthPath, (IProxyStateLookup state) =>
        {
            var (healthy, total) = state.TryGetCluster(ClusterId, out var cluster) ? Count(cluster.Destinations.Values) : (0, 0);
            var body = JsonSerializer.SerializeToUtf8Bytes(new GatewayHealth(healthy > 0 ? "healthy" : "unhealthy", healthy, total), GatewayJsonContext.Default.GatewayHealth);
            return new HealthResult(body, healthy > 0 ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable);
        });
        return app;
    }

    /// <summary>An answer of the Gateway's own, for what it could not get from an upstream: <c>{"message":…}</c>.</summary>
    public static Task WriteMessageAsync(HttpContext context, int statusCode, string message) =>
        new HealthResult(JsonSerializer.SerializeToUtf8Bytes(new GatewayMessage(message), GatewayJsonContext.Default.GatewayMessage), statusCode).ExecuteAsync(context);

    public const string NoHealthyUpstream = "no healthy upstream";
    public const string UpstreamTimedOut = "the upstream did not answer in time";

    private static (int Healthy, int Total) Count(IEnumerable<DestinationState> destinations) =>
        (destinations.Count(d => d.Health.Active != DestinationHealth.Unhealthy && d.Health.Passive != DestinationHealth.Unhealthy), destinations.Count());
}

internal sealed class HealthResult(byte[] body, int statusCode) : IResult
{
    public Task ExecuteAsync(HttpContext httpContext)
    {
        httpContext.Response.StatusCode = statusCode;
        httpContext.Response.ContentType = "application/json";
        return httpContext.Response.Body.WriteAsync(body).AsTask();
    }
}

internal sealed record GatewayHealth(string Status, int HealthyUpstreams, int Upstreams);

internal sealed record GatewayMessage(string Message);

[System.Text.Json.Serialization.JsonSourceGenerationOptions(PropertyNamingPolicy = System.Text.Json.Serialization.JsonKnownNamingPolicy.CamelCase)]
[System.Text.Json.Serialization.JsonSerializable(typeof(GatewayHealth))]
[System.Text.Json.Serialization.JsonSerializable(typeof(GatewayMessage))]
internal sealed partial class GatewayJsonContext : System.Text.Json.Serialization.JsonSerializerContext;

using FfProxy.Core.Caching;
using FfProxy.Core.Configuration;
using FfProxy.Core.Evaluation;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.IdentityModel.Tokens;

namespace FfProxy.Core.Sdk;

/// <summary>Registers and maps the SDK-facing API shared by the Primary and the Replicas.</summary>
public static class SdkApiExtensions
{
    /// <summary>Tokens, snapshots, the SSE hub, evaluation, metrics intake and JWT authentication.</summary>
    public static IHostApplicationBuilder AddSdkApi(this IHostApplicationBuilder builder)
    {
        var services = builder.Services;
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<ProxyStatus>();
        services.TryAddSingleton(ProxyRole.Primary); // a Replica replaces it (AddReplicaOptions), before or after this
        services.TryAddSingleton<ProxyMetrics>();
        services.TryAddSingleton<TokenService>();
        services.TryAddSingleton<SdkStreamHub>();
        services.TryAddSingleton<Evaluator>();
        services.TryAddSingleton<ISdkMetricsSink, UnforwardedMetricsSink>();
        services.TryAddSingleton<ITargetForwarder, NoTargetForwarding>();
        // Undocumented tuning knob for tests; SDKs expect the Pushpin-compatible 15 s.
        var heartbeat = builder.Configuration.GetValue("FfProxy:StreamHeartbeatSeconds", 15.0);
        services.TryAddSingleton(new SdkStreamSettings(TimeSpan.FromSeconds(heartbeat)));
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
        services.AddHostedService<SdkStreamShutdown>();
        services.AddHostedService<SdkStreamHeartbeat>();

        services.AddAuthorization();
        services.AddAuthentication(JwtBearerDefaults.AuthenticationScheme).AddJwtBearer();
        services.AddOptions<JwtBearerOptions>(JwtBearerDefaults.AuthenticationScheme)
            .Configure<TokenService, SdkTokenEvents>((jwt, tokens, events) =>
            {
                jwt.MapInboundClaims = false;
                jwt.RequireHttpsMetadata = false;
                // Nothing reads the token back from the authentication properties; saved, a second copy of it would
                // live as long as the request, which for an SDK stream is hours.
                jwt.SaveToken = false;
                jwt.Events = events;
                jwt.TokenValidationParameters = new TokenValidationParameters
                {
                    ValidateIssuer = false,
                    ValidateAudience = false,
                    ValidateIssuerSigningKey = false,
                    ValidateLifetime = true,
                    RequireExpirationTime = false,
                    RequireSignedTokens = true,
                    ClockSkew = TokenService.ClockSkew,
                    SignatureValidator = tokens.ValidateSignature,
                    NameClaimType = TokenClaims.ApiKey,
                };
            });
        services.TryAddSingleton<SdkTokenEvents>();
        return builder;
    }

    /// <summary>The Go proxy's middleware chain and every route of spec §2.1, each handled by its route group.</summary>
    public static WebApplication MapSdkApi(this WebApplication app)
    {
        var options = app.Services.GetRequiredService<ProxyOptions>();
        var status = app.Services.GetRequiredService<ProxyStatus>();
        app.Services.GetRequiredService<ProxyMetrics>().ObserveStreamHealth(() => status.StreamingAvailable);

        app.UseMiddleware<ErrorResponseMiddleware>();
        app.UseMiddleware<HttpMetricsMiddleware>();
        app.UseMiddleware<RequestNormalizationMiddleware>();
        app.UseMiddleware<CorsMiddleware>();
        app.UseRouting();
        if (!options.BypassAuth)
        {
            app.UseAuthentication();
            app.UseAuthorization();
            app.UseMiddleware<EnvironmentScopeMiddleware>();
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
            var endpoint = app.MapMethods(template, [method], handler).WithMetadata(SdkRoute.For(template, environmentScoped));
            if (authenticated && !bypassAuth)
            {
                endpoint.RequireAuthorization();
            }

            return endpoint;
        }
    }
}

/// <summary>
/// The outermost error policy: 404/405 from routing get the Go proxy's JSON bodies
/// (<c>{"message":"Not Found"}</c>), an unreachable store is a 503 and a request Kestrel cannot read is a
/// 400, so no client ever sees an empty 500.
/// </summary>
internal sealed partial class ErrorResponseMiddleware(RequestDelegate next, ILogger<ErrorResponseMiddleware> logger)
{
    public async Task InvokeAsync(HttpContext context)
    {
        try
        {
            await next(context).ConfigureAwait(false);
        }
        catch (StoreUnavailableException ex) when (!context.Response.HasStarted)
        {
            LogStoreUnavailable(logger, context.Request.Path, ex);
            await SdkResponses.WriteError(context, StatusCodes.Status503ServiceUnavailable, "cache unavailable, try again shortly").ConfigureAwait(false);
            return;
        }
        catch (BadHttpRequestException ex) when (!context.Response.HasStarted)
        {
            await SdkResponses.WriteError(context, ex.StatusCode, "bad request: " + ex.Message).ConfigureAwait(false);
            return;
        }
        catch (IOException ex) when (!context.Response.HasStarted && !context.RequestAborted.IsCancellationRequested)
        {
            // Kestrel reports some framing errors of the request body this way (a chunk size that overflows).
            await SdkResponses.WriteError(context, StatusCodes.Status400BadRequest, "bad request: the request body could not be read: " + ex.Message).ConfigureAwait(false);
            return;
        }

        var response = context.Response;
        if (response.HasStarted || response.ContentLength > 0)
        {
            return;
        }

        if (response.StatusCode == StatusCodes.Status404NotFound)
        {
            await SdkResponses.WriteMessage(context, 404, "Not Found").ConfigureAwait(false);
        }
        else if (response.StatusCode == StatusCodes.Status405MethodNotAllowed)
        {
            await SdkResponses.WriteMessage(context, 405, "Method Not Allowed").ConfigureAwait(false);
        }
    }

    [LoggerMessage(EventId = LogEventIds.Sdk.StoreUnavailable, Level = LogLevel.Warning, Message = "Store unavailable while serving {Path}")]
    private static partial void LogStoreUnavailable(ILogger logger, string path, Exception exception);
}

/// <summary>
/// JWT events: after the signature and time checks, the token's SDK key must still exist (deleting a key
/// invalidates its tokens at once), and 401 answers carry a JSON body.
/// </summary>
internal sealed class SdkTokenEvents(SnapshotCache snapshots, ConfigRepository repository, TimeProvider time) : JwtBearerEvents
{
    public override async Task TokenValidated(TokenValidatedContext context)
    {
        var principal = context.Principal!;
        var environment = principal.FindFirst(TokenClaims.Environment)?.Value;
        var apiKey = principal.FindFirst(TokenClaims.ApiKey)?.Value;
        if (string.IsNullOrEmpty(environment) || string.IsNullOrEmpty(apiKey) || !apiKey.StartsWith(CacheKeys.AuthKeyPrefix, StringComparison.Ordinal))
        {
            context.Fail("token lacks the environment or apiKey claim");
            return;
        }

        if (long.TryParse(principal.FindFirst("iat")?.Value, System.Globalization.CultureInfo.InvariantCulture, out var issuedAt)
            && DateTimeOffset.FromUnixTimeSeconds(issuedAt) > time.GetUtcNow() + TokenService.ClockSkew)
        {
            context.Fail("token issued in the future");
            return;
        }

        var snapshot = await snapshots.GetAsync(environment, context.HttpContext.RequestAborted).ConfigureAwait(false);
        if (snapshot.ApiKeys.Contains(apiKey))
        {
            return;
        }

        // Not in this process's snapshot: the key may be newer than it (a Replica learns of added keys
        // only through the store).
        var owner = await repository.GetEnvironmentForKeyAsync(apiKey[CacheKeys.AuthKeyPrefix.Length..], context.HttpContext.RequestAborted).ConfigureAwait(false);
        if (!string.Equals(owner, environment, StringComparison.Ordinal))
        {
            context.Fail("the token's SDK key no longer exists");
            return;
        }

        await snapshots.RefreshAsync(environment, context.HttpContext.RequestAborted).ConfigureAwait(false);
    }

    public override Task Challenge(JwtBearerChallengeContext context)
    {
        context.HandleResponse();
        var header = context.Request.Headers.Authorization.ToString();
        var message = header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) && header.Length > 7
            ? "invalid or expired jwt"
            : "missing or malformed jwt";
        return SdkResponses.WriteMessage(context.HttpContext, StatusCodes.Status401Unauthorized, message);
    }

    public override Task Forbidden(ForbiddenContext context) =>
        SdkResponses.WriteMessage(context.HttpContext, StatusCodes.Status403Forbidden, "Forbidden");
}

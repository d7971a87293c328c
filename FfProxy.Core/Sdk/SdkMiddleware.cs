using System.Diagnostics;
using FfProxy.Core.Caching;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Net.Http.Headers;

namespace FfProxy.Core.Sdk;

/// <summary>
/// Everything the Go proxy's middleware chain does before routing, in one step (one per request, not four):
/// <list type="bullet">
/// <item>request hygiene: semicolons in the query become ampersands (some SDKs send <c>?cluster=1;rules=v2</c>), and
/// <c>X-Request-Id</c> is echoed when it is a safe token, else generated;</item>
/// <item>CORS as echo's CORS middleware answers it (origins <c>*</c>, methods GET/OPTIONS/POST, headers <c>*</c>,
/// <c>Authorization</c>): every response varies on <c>Origin</c>; a request with an <c>Origin</c> gets
/// <c>Access-Control-Allow-Origin: *</c>; every OPTIONS request is a preflight answered 204 before routing and
/// authentication, so a browser may reach every SDK route from any page (Authorization is named beside <c>*</c>
/// because browsers do not let the wildcard cover it);</item>
/// <item>the error policy: 404/405 from routing get the Go proxy's JSON bodies (<c>{"message":"Not Found"}</c>), an
/// unreachable store is a 503 and a request Kestrel cannot read is a 400, so no client ever sees an empty 500;</item>
/// <item><c>ff_proxy_http_requests_total</c> and <c>ff_proxy_http_requests_duration</c>, labelled with the Go route
/// template (e.g. <c>/client/env/:environment_uuid/feature-configs</c>) and the status actually sent, skipping
/// health and scrapes.</item>
/// </list>
/// </summary>
internal sealed partial class SdkEdgeMiddleware(RequestDelegate next, ProxyMetrics metrics, TimeProvider time, ILogger<SdkEdgeMiddleware> logger)
{
    public const string AllowedMethods = "GET,OPTIONS,POST";
    public const string AllowedHeaders = "*,Authorization";

    public async Task InvokeAsync(HttpContext context)
    {
        var request = context.Request;
        var metered = !(request.Path.Equals("/health", StringComparison.Ordinal)
            || (request.Path.Equals("/metrics", StringComparison.Ordinal) && HttpMethods.IsGet(request.Method)));
        var started = metered ? time.GetTimestamp() : 0;
        try
        {
            Normalize(context);
            if (AnswerCors(context))
            {
                return;
            }

            await next(context).ConfigureAwait(false);
            await AnswerRoutingErrorAsync(context).ConfigureAwait(false);
        }
        catch (StoreUnavailableException ex) when (!context.Response.HasStarted)
        {
            LogStoreUnavailable(logger, request.Path, ex);
            await SdkResponses.WriteError(context, StatusCodes.Status503ServiceUnavailable, "cache unavailable, try again shortly").ConfigureAwait(false);
        }
        catch (BadHttpRequestException ex) when (!context.Response.HasStarted)
        {
            await SdkResponses.WriteError(context, ex.StatusCode, "bad request: " + ex.Message).ConfigureAwait(false);
        }
        catch (IOException ex) when (!context.Response.HasStarted && !context.RequestAborted.IsCancellationRequested)
        {
            // Kestrel reports some framing errors of the request body this way (a chunk size that overflows).
            await SdkResponses.WriteError(context, StatusCodes.Status400BadRequest, "bad request: the request body could not be read: " + ex.Message).ConfigureAwait(false);
        }
        finally
        {
            if (metered)
            {
                Record(context, started);
            }
        }
    }

    private static void Normalize(HttpContext context)
    {
        var query = context.Request.QueryString;
        if (query.HasValue && query.Value!.Contains(';', StringComparison.Ordinal))
        {
            context.Request.QueryString = new QueryString(query.Value.Replace(';', '&'));
        }

        var requestId = context.Request.Headers[RequestIds.Header].ToString();
        if (!RequestIds.IsSafe(requestId))
        {
            requestId = Guid.NewGuid().ToString();
        }

        context.Response.Headers[RequestIds.Header] = requestId;
    }

    /// <summary>Adds the CORS headers; true when the request was a preflight, now answered.</summary>
    private static bool AnswerCors(HttpContext context)
    {
        var headers = context.Response.Headers;
        headers.Vary = HeaderNames.Origin;
        var preflight = HttpMethods.IsOptions(context.Request.Method);
        if (context.Request.Headers.Origin.Count > 0)
        {
            headers.AccessControlAllowOrigin = "*";
            if (preflight)
            {
                headers.Append(HeaderNames.Vary, HeaderNames.AccessControlRequestMethod);
                headers.Append(HeaderNames.Vary, HeaderNames.AccessControlRequestHeaders);
                headers.AccessControlAllowMethods = AllowedMethods;
                headers.AccessControlAllowHeaders = AllowedHeaders;
            }
        }

        if (preflight)
        {
            context.Response.StatusCode = StatusCodes.Status204NoContent;
        }

        return preflight;
    }

    private static Task AnswerRoutingErrorAsync(HttpContext context)
    {
        var response = context.Response;
        if (response.HasStarted || response.ContentLength > 0)
        {
            return Task.CompletedTask;
        }

        return response.StatusCode switch
        {
            StatusCodes.Status404NotFound => SdkResponses.WriteMessage(context, 404, "Not Found"),
            StatusCodes.Status405MethodNotAllowed => SdkResponses.WriteMessage(context, 405, "Method Not Allowed"),
            _ => Task.CompletedTask,
        };
    }

    private void Record(HttpContext context, long started)
    {
        var url = context.GetEndpoint()?.Metadata.GetMetadata<SdkRoute>()?.MetricLabel ?? "/*";
        var env = context.GetRouteValue(SdkRoute.EnvironmentParameter) as string ?? "";
        metrics.RecordRequest(url, env, context.Response.StatusCode, time.GetElapsedTime(started).TotalSeconds);
        if (HttpMethods.IsPost(context.Request.Method))
        {
            metrics.RecordContentLength(context.Request.ContentLength);
        }
    }

    [LoggerMessage(EventId = LogEventIds.Sdk.StoreUnavailable, Level = LogLevel.Warning, Message = "Store unavailable while serving {Path}")]
    private static partial void LogStoreUnavailable(ILogger logger, string path, Exception exception);
}

/// <summary>
/// The SDK token check of spec §2.2 on the routes that need one, in place of a generic authentication and
/// authorization stack: a Bearer token signed with one of our secrets (<see cref="TokenService"/>, which remembers
/// verified signatures), within its <c>nbf</c>/<c>exp</c>/<c>iat</c> times, naming an SDK key that still exists
/// (deleting a key invalidates its tokens at once), and on environment-scoped routes naming the environment of the
/// path (step 7). A refused request gets the Go proxy's 401 JSON.
/// </summary>
internal sealed class SdkAuthenticationMiddleware(
    RequestDelegate next,
    TokenService tokens,
    SnapshotCache snapshots,
    ConfigRepository repository,
    TimeProvider time)
{
    private const string Bearer = "Bearer ";

    public Task InvokeAsync(HttpContext context)
    {
        var route = context.GetEndpoint()?.Metadata.GetMetadata<SdkRoute>();
        return route is { Authenticated: true } ? AuthenticateAsync(context, route) : next(context);
    }

    private async Task AuthenticateAsync(HttpContext context, SdkRoute route)
    {
        var header = context.Request.Headers.Authorization.ToString();
        var bearer = header.StartsWith(Bearer, StringComparison.OrdinalIgnoreCase);
        var token = bearer ? tokens.Verify(header[Bearer.Length..].Trim()) : null;
        if (token is null || !await IsCurrentAsync(token, context).ConfigureAwait(false))
        {
            var message = bearer && header.Length > Bearer.Length ? "invalid or expired jwt" : "missing or malformed jwt";
            await SdkResponses.WriteMessage(context, StatusCodes.Status401Unauthorized, message).ConfigureAwait(false);
            return;
        }

        if (route.EnvironmentScoped)
        {
            var requested = context.GetRouteValue(SdkRoute.EnvironmentParameter) as string ?? "";
            if (!string.Equals(token.Environment, requested, StringComparison.Ordinal))
            {
                await SdkResponses.WriteMessage(context, StatusCodes.Status401Unauthorized,
                    $"Environment ID [{token.Environment}] mismatch with requested {requested}").ConfigureAwait(false);
                return;
            }
        }

        await next(context).ConfigureAwait(false);
    }

    /// <summary>Times (with <see cref="TokenService.ClockSkew"/>), claims, and the SDK key's existence.</summary>
    private async ValueTask<bool> IsCurrentAsync(VerifiedToken token, HttpContext context)
    {
        var now = time.GetUtcNow();
        var skew = TokenService.ClockSkew;
        if ((token.NotBefore is { } nbf && (nbf > now + skew || (token.Expires is { } end && nbf > end)))
            || (token.Expires is { } exp && exp < now - skew)
            || (token.IssuedAt is { } iat && iat > now + skew))
        {
            return false;
        }

        var environment = token.Environment;
        var apiKey = token.ApiKey;
        if (string.IsNullOrEmpty(environment) || string.IsNullOrEmpty(apiKey) || !apiKey.StartsWith(CacheKeys.AuthKeyPrefix, StringComparison.Ordinal))
        {
            return false;
        }

        var snapshot = await snapshots.GetAsync(environment, context.RequestAborted).ConfigureAwait(false);
        if (snapshot.ApiKeys.Contains(apiKey))
        {
            return true;
        }

        // Not in this process's snapshot: the key may be newer than it (a Replica learns of added keys only through
        // the store).
        var owner = await repository.GetEnvironmentForKeyAsync(apiKey[CacheKeys.AuthKeyPrefix.Length..], context.RequestAborted).ConfigureAwait(false);
        if (!string.Equals(owner, environment, StringComparison.Ordinal))
        {
            return false;
        }

        await snapshots.RefreshAsync(environment, context.RequestAborted).ConfigureAwait(false);
        return true;
    }
}

/// <summary>
/// Endpoint metadata: the Go route template used as metric label, whether the route needs an SDK token, and
/// whether it is per environment.
/// </summary>
[DebuggerDisplay("{MetricLabel}")]
internal sealed class SdkRoute(string metricLabel, bool authenticated, bool environmentScoped)
{
    public const string EnvironmentParameter = "environment_uuid";

    public string MetricLabel { get; } = metricLabel;
    public bool Authenticated { get; } = authenticated;
    public bool EnvironmentScoped { get; } = environmentScoped;

    /// <summary>ASP.NET template <c>{x}</c> to Go/echo template <c>:x</c>.</summary>
    public static SdkRoute For(string template, bool authenticated, bool environmentScoped) =>
        new(template.Replace("{", ":", StringComparison.Ordinal).Replace("}", "", StringComparison.Ordinal), authenticated, environmentScoped);
}

using System.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Hosting;
using Microsoft.Net.Http.Headers;

namespace FfProxy.Core.Sdk;

/// <summary>
/// Records <c>ff_proxy_http_requests_total</c> and <c>ff_proxy_http_requests_duration</c> labelled with the
/// Go route template (e.g. <c>/client/env/:environment_uuid/feature-configs</c>), skipping health and scrapes.
/// </summary>
internal sealed class HttpMetricsMiddleware(RequestDelegate next, ProxyMetrics metrics, TimeProvider time)
{
    public async Task InvokeAsync(HttpContext context)
    {
        var path = context.Request.Path;
        if (path.Equals("/health", StringComparison.Ordinal) || (path.Equals("/metrics", StringComparison.Ordinal) && HttpMethods.IsGet(context.Request.Method)))
        {
            await next(context).ConfigureAwait(false);
            return;
        }

        var started = time.GetTimestamp();
        try
        {
            await next(context).ConfigureAwait(false);
        }
        finally
        {
            var url = context.GetEndpoint()?.Metadata.GetMetadata<SdkRoute>()?.MetricLabel ?? "/*";
            var env = context.GetRouteValue(SdkRoute.EnvironmentParameter) as string ?? "";
            metrics.RecordRequest(url, env, context.Response.StatusCode, time.GetElapsedTime(started).TotalSeconds);
            if (HttpMethods.IsPost(context.Request.Method))
            {
                metrics.RecordContentLength(context.Request.ContentLength);
            }
        }
    }
}

/// <summary>
/// Request hygiene before routing: semicolons in the query become ampersands (some SDKs send
/// <c>?cluster=1;rules=v2</c>), and <c>X-Request-Id</c> is echoed when it is a safe token, else generated.
/// </summary>
internal sealed class RequestNormalizationMiddleware(RequestDelegate next)
{
    public Task InvokeAsync(HttpContext context)
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
        return next(context);
    }
}

/// <summary>
/// CORS as the Go proxy answers it (echo's CORS middleware with origins <c>*</c>, methods GET/OPTIONS/POST and
/// headers <c>*</c>, <c>Authorization</c>): every response varies on <c>Origin</c>; a request with an
/// <c>Origin</c> gets <c>Access-Control-Allow-Origin: *</c>; every OPTIONS request is a preflight answered 204
/// before routing and authentication, so a browser may reach every SDK route from any page. Authorization is
/// named beside <c>*</c> because browsers do not let the wildcard cover it.
/// </summary>
internal sealed class CorsMiddleware(RequestDelegate next)
{
    public const string AllowedMethods = "GET,OPTIONS,POST";
    public const string AllowedHeaders = "*,Authorization";

    public Task InvokeAsync(HttpContext context)
    {
        var headers = context.Response.Headers;
        headers.Append(HeaderNames.Vary, HeaderNames.Origin);
        var preflight = HttpMethods.IsOptions(context.Request.Method);
        if (context.Request.Headers.Origin.Count == 0)
        {
            return preflight ? NoContent(context) : next(context);
        }

        headers.AccessControlAllowOrigin = "*";
        if (!preflight)
        {
            return next(context);
        }

        headers.Append(HeaderNames.Vary, HeaderNames.AccessControlRequestMethod);
        headers.Append(HeaderNames.Vary, HeaderNames.AccessControlRequestHeaders);
        headers.AccessControlAllowMethods = AllowedMethods;
        headers.AccessControlAllowHeaders = AllowedHeaders;
        return NoContent(context);
    }

    private static Task NoContent(HttpContext context)
    {
        context.Response.StatusCode = StatusCodes.Status204NoContent;
        return Task.CompletedTask;
    }
}

/// <summary>
/// On environment-scoped routes the <c>{environment_uuid}</c> in the path must be the token's environment
/// (spec §2.2 step 7).
/// </summary>
internal sealed class EnvironmentScopeMiddleware(RequestDelegate next)
{
    public Task InvokeAsync(HttpContext context)
    {
        var route = context.GetEndpoint()?.Metadata.GetMetadata<SdkRoute>();
        if (route is { EnvironmentScoped: true } && context.User.Identity?.IsAuthenticated == true)
        {
            var claimed = context.User.FindFirst(TokenClaims.Environment)?.Value ?? "";
            var requested = context.GetRouteValue(SdkRoute.EnvironmentParameter) as string ?? "";
            if (!string.Equals(claimed, requested, StringComparison.Ordinal))
            {
                return SdkResponses.WriteMessage(context, StatusCodes.Status401Unauthorized,
                    $"Environment ID [{claimed}] mismatch with requested {requested}");
            }
        }

        return next(context);
    }
}

/// <summary>Endpoint metadata: the Go route template used as metric label, and whether the route is per environment.</summary>
[DebuggerDisplay("{MetricLabel}")]
internal sealed class SdkRoute(string metricLabel, bool environmentScoped)
{
    public const string EnvironmentParameter = "environment_uuid";

    public string MetricLabel { get; } = metricLabel;
    public bool EnvironmentScoped { get; } = environmentScoped;

    /// <summary>ASP.NET template <c>{x}</c> to Go/echo template <c>:x</c>.</summary>
    public static SdkRoute For(string template, bool environmentScoped) =>
        new(template.Replace("{", ":", StringComparison.Ordinal).Replace("}", "", StringComparison.Ordinal), environmentScoped);
}

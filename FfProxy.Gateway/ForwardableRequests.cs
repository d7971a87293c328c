using System.Text;
using System.Text.Json;

namespace FfProxy.Gateway;

/// <summary>
/// Requests the Gateway could not forward are answered here, not by YARP: the forwarder's HTTP client sends only
/// ASCII header values, and a request it refuses would come back as a 502 (and count against the upstream).
/// An unsafe <c>X-Request-Id</c> is dropped (the upstream then generates one); any other header value with bytes
/// outside ASCII is a 400 naming the header.
/// </summary>
internal sealed class ForwardableRequestMiddleware(RequestDelegate next)
{
    public Task InvokeAsync(HttpContext context)
    {
        var headers = context.Request.Headers;
        if (headers.TryGetValue(RequestIds.Header, out var requestId) && !RequestIds.IsSafe(requestId.ToString()))
        {
            headers.Remove(RequestIds.Header);
        }

        foreach (var (name, values) in headers)
        {
            foreach (var value in values)
            {
                if (value is not null && !Ascii.IsValid(value))
                {
                    return RefuseAsync(context, $"header {Printable(name)} holds characters outside ASCII, which cannot be forwarded");
                }
            }
        }

        return next(context);
    }

    private static Task RefuseAsync(HttpContext context, string message)
    {
        context.Response.StatusCode = StatusCodes.Status400BadRequest;
        context.Response.ContentType = "application/json; charset=UTF-8";
        var body = JsonSerializer.SerializeToUtf8Bytes(new GatewayError(message), GatewayErrorJsonContext.Default.GatewayError);
        return context.Response.Body.WriteAsync(body).AsTask();
    }

    /// <summary>A header name as it can be shown in a message (names are tokens; be safe anyway).</summary>
    private static string Printable(string name)
    {
        var text = new StringBuilder(Math.Min(name.Length, 64));
        foreach (var c in name.AsSpan(0, Math.Min(name.Length, 64)))
        {
            text.Append(c is > ' ' and < '\x7f' ? c : '?');
        }

        return text.ToString();
    }
}

internal sealed record GatewayError(string Error);

[System.Text.Json.Serialization.JsonSourceGenerationOptions(PropertyNamingPolicy = System.Text.Json.Serialization.JsonKnownNamingPolicy.CamelCase)]
[System.Text.Json.Serialization.JsonSerializable(typeof(GatewayError))]
internal sealed partial class GatewayErrorJsonContext : System.Text.Json.Serialization.JsonSerializerContext;

internal static class ForwardableRequestExtensions
{
    public static IApplicationBuilder UseForwardableRequests(this IApplicationBuilder app) => app.UseMiddleware<ForwardableRequestMiddleware>();
}

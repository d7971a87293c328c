using System.Buffers;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Microsoft.AspNetCore.Routing;

namespace FfProxy.Core.Sdk;

/// <summary>What the SDK route handlers read from a request beyond its headers: route values and the body.</summary>
internal static class SdkRequest
{
    /// <summary>
    /// Largest request body accepted on POST routes. Kestrel enforces it per endpoint (the routes carry it as
    /// <see cref="Microsoft.AspNetCore.Http.Metadata.IRequestSizeLimitMetadata"/>) by throwing
    /// <see cref="BadHttpRequestException"/> with 413, which <see cref="SdkEdgeMiddleware"/> answers in JSON.
    /// </summary>
    public const int MaxBodyBytes = 4 * 1024 * 1024;

    public static string RouteValue(HttpContext context, string name) => context.GetRouteValue(name) as string ?? "";

    /// <summary>The whole body, within the endpoint's limit (Kestrel stops a larger one).</summary>
    public static async Task<byte[]> ReadBodyAsync(HttpContext context)
    {
        if (context.Request.ContentLength > MaxBodyBytes)
        {
            // Kestrel would refuse it at the first read too, but then closes the connection with the upload unread,
            // and a client still sending (HttpClient does) gets a reset, not the 413. Refused here, before reading,
            // the upload is drained within the server-wide limit, as for any unread body, and the client reads the 413.
            var limit = context.Features.Get<IHttpMaxRequestBodySizeFeature>();
            if (limit is { IsReadOnly: false })
            {
                limit.MaxRequestBodySize = context.RequestServices.GetService<IOptions<KestrelServerOptions>>()?.Value.Limits.MaxRequestBodySize;
            }

            throw new Microsoft.AspNetCore.Http.BadHttpRequestException($"Request body too large. The max request body size is {MaxBodyBytes} bytes.", StatusCodes.Status413PayloadTooLarge);
        }

        var reader = context.Request.BodyReader;
        while (true)
        {
            var result = await reader.ReadAsync(context.RequestAborted).ConfigureAwait(false);
            var buffer = result.Buffer;
            if (result.IsCompleted)
            {
                var body = buffer.ToArray();
                reader.AdvanceTo(buffer.End);
                return body;
            }

            reader.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    /// <summary>Where the JSON went wrong, without quoting the input (it may hold an SDK key).</summary>
    public static string JsonProblem(JsonException ex) =>
        ex.Path is { Length: > 0 } path ? $"invalid value at {path} (line {ex.LineNumber + 1}, byte {ex.BytePositionInLine + 1})" : $"malformed JSON (line {ex.LineNumber + 1}, byte {ex.BytePositionInLine + 1})";
}

/// <summary>The body limit of a POST route, applied by routing to Kestrel's <c>MaxRequestBodySize</c>.</summary>
internal sealed class SdkBodyLimit : Microsoft.AspNetCore.Http.Metadata.IRequestSizeLimitMetadata
{
    public static readonly SdkBodyLimit Instance = new();

    public long? MaxRequestBodySize => SdkRequest.MaxBodyBytes;
}

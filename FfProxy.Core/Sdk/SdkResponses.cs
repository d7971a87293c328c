using System.Buffers;
using System.Text.Encodings.Web;
using System.Text.Json;
using FfProxy.Core.Caching;
using Microsoft.AspNetCore.Http;
using Microsoft.Net.Http.Headers;

namespace FfProxy.Core.Sdk;

/// <summary>Writes responses the way the Go proxy does: compact JSON terminated by one newline.</summary>
internal static class SdkResponses
{
    public const string JsonContentType = "application/json; charset=utf-8";

    // Go's error encoder spells the charset in upper case; SDKs do not care, tests of the Go proxy do.
    public const string ErrorContentType = "application/json; charset=UTF-8";

    private static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>A pre-serialised body with its ETag; answers 304 when the client already has it.</summary>
    public static Task WriteSnapshotBody(HttpContext context, ResponseBody body)
    {
        var response = context.Response;
        response.Headers.ETag = body.ETag;
        var ifNoneMatch = context.Request.Headers.IfNoneMatch;
        if (ifNoneMatch.Count > 0 && Matches(ifNoneMatch, body.ETag))
        {
            response.StatusCode = StatusCodes.Status304NotModified;
            return Task.CompletedTask;
        }

        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = JsonContentType;
        response.ContentLength = body.Length;
        if (body.Wire is { } wire)
        {
            // One write of a buffer holding everything, as a bare Kestrel app does. Written through the PipeWriter
            // instead, the 222 KB list of bench/sdk-ratios.sh cost 101 µs of CPU per request against 70 µs this way.
            return response.Body.WriteAsync(wire).AsTask();
        }

        var writer = response.BodyWriter;
        writer.Write(body.Json.Span);
        writer.Write("\n"u8);
        return writer.FlushAsync().AsTask();
    }

    public static Task WriteBytes(HttpResponse response, int status, string contentType, ReadOnlyMemory<byte> body)
    {
        response.StatusCode = status;
        response.ContentType = contentType;
        response.ContentLength = body.Length;
        return response.Body.WriteAsync(body).AsTask();
    }

    /// <summary>A 200 with the JSON <paramref name="write"/> produces.</summary>
    public static Task WriteJson(HttpContext context, Action<Utf8JsonWriter> write)
    {
        var buffer = new ArrayBufferWriter<byte>(1024);
        using (var writer = new Utf8JsonWriter(buffer, WriterOptions))
        {
            write(writer);
        }

        buffer.Write("\n"u8);
        return WriteBytes(context.Response, StatusCodes.Status200OK, JsonContentType, buffer.WrittenMemory);
    }

    /// <summary>A service error: <c>{"error":"…"}</c>.</summary>
    public static Task WriteError(HttpContext context, int status, string message) =>
        WriteObject(context.Response, status, ErrorContentType, "error", message);

    /// <summary>A middleware/framework error: <c>{"message":"…"}</c>.</summary>
    public static Task WriteMessage(HttpContext context, int status, string message) =>
        WriteObject(context.Response, status, ErrorContentType, "message", message);

    private static Task WriteObject(HttpResponse response, int status, string contentType, string property, string message)
    {
        var buffer = new ArrayBufferWriter<byte>(64 + message.Length);
        using (var writer = new Utf8JsonWriter(buffer, WriterOptions))
        {
            writer.WriteStartObject();
            writer.WriteString(property, message);
            writer.WriteEndObject();
        }

        buffer.Write("\n"u8);
        return WriteBytes(response, status, contentType, buffer.WrittenMemory);
    }

    private static bool Matches(Microsoft.Extensions.Primitives.StringValues ifNoneMatch, string etag)
    {
        if (EntityTagHeaderValue.TryParseList(ifNoneMatch, out var tags))
        {
            foreach (var tag in tags)
            {
                if (tag.Equals(EntityTagHeaderValue.Any) || string.Equals(tag.Tag.Value, etag, StringComparison.Ordinal))
                {
                    return true;
                }
            }
        }

        return false;
    }
}

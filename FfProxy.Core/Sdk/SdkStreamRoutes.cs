using FfProxy.Core.Caching;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;

namespace FfProxy.Core.Sdk;

/// <summary>
/// <c>GET /stream</c> (spec §2.10), the SDKs' Server-Sent Events: the <c>API-Key</c> is looked up in the store (the
/// snapshots' keys when the store lacks it or is down), then frames come from the <see cref="SdkStreamHub"/>.
/// </summary>
internal sealed partial class SdkStreamRoutes(
    SnapshotCache snapshots,
    SdkStreamHub hub,
    ProxyStatus status,
    TimeProvider time,
    ILogger<SdkStreamRoutes> logger)
{
    /// <summary>
    /// <c>GET /stream</c>: held natively (no Pushpin). Frames come from the <see cref="SdkStreamHub"/>; a
    /// <c>:</c> comment goes out, flushed on its own, whenever the stream was quiet for the heartbeat interval
    /// (<see cref="SdkStreamHeartbeat"/>; the loop is <see cref="SdkStreamWriter"/>).
    /// </summary>
    public async Task Stream(HttpContext context)
    {
        if (!status.StreamingAvailable)
        {
            await SdkResponses.WriteError(context, 503, "SaaS stream disconnected: streaming endpoint disabled").ConfigureAwait(false);
            return;
        }

        var apiKey = context.Request.Headers["API-Key"].ToString();
        if (apiKey.Length == 0)
        {
            await SdkResponses.WriteError(context, 400, "bad request: the API-Key header is required").ConfigureAwait(false);
            return;
        }

        var environment = await snapshots.FindEnvironmentOfKeyAsync(SdkKeyHash.Compute(apiKey), context.RequestAborted).ConfigureAwait(false);
        if (environment is null)
        {
            // The Go proxy echoes the raw key here; a secret never goes into a response.
            await SdkResponses.WriteError(context, 404, "not found: no environment found for the API-Key").ConfigureAwait(false);
            return;
        }

        // Everything this stream needs from the request has been read, and nothing after it reads request headers:
        // release them (the bearer token alone is about 0.7 KB) rather than hold them for the stream's lifetime.
        var checkOnly = context.Request.Headers[SdkStreamCheck.Header] == SdkStreamCheck.Asked;
        context.Request.Headers.Clear();

        var response = context.Response;
        context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
        if (context.Features.Get<Microsoft.AspNetCore.Server.Kestrel.Core.Features.IHttpMinResponseDataRateFeature>() is { } rate)
        {
            rate.MinDataRate = null;
        }

        response.StatusCode = 200;
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache";
        response.Headers["X-Accel-Buffering"] = "no";
        if (HttpProtocol.IsHttp11(context.Request.Protocol))
        {
            response.Headers.Connection = "keep-alive";
        }

        if (checkOnly)
        {
            // The Gateway's relay asks only whether this SDK may stream; it holds the stream itself (SdkStreamCheck).
            response.Headers[SdkStreamCheck.Header] = SdkStreamCheck.Answer;
            response.ContentLength = 0;
            return;
        }

        using var connection = hub.Connect(environment);
        LogStreamOpened(logger, environment);
        var aborted = context.RequestAborted;
        try
        {
            await SdkStreamWriter.RunAsync(response, connection, time, aborted).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (aborted.IsCancellationRequested)
        {
            // The SDK went away.
        }

        LogStreamClosed(logger, environment);
    }

    [LoggerMessage(EventId = LogEventIds.Sdk.StreamOpened, Level = LogLevel.Information, Message = "SDK stream opened for environment {Environment}")]
    private static partial void LogStreamOpened(ILogger logger, string environment);

    [LoggerMessage(EventId = LogEventIds.Sdk.StreamClosed, Level = LogLevel.Information, Message = "SDK stream closed for environment {Environment}")]
    private static partial void LogStreamClosed(ILogger logger, string environment);
}

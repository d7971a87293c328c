using System.Buffers;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.RegularExpressions;
using FfProxy.Core.Caching;
using FfProxy.Core.Configuration;
using FfProxy.Core.Domain;
using FfProxy.Core.Evaluation;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging;

namespace FfProxy.Core.Sdk;

/// <summary>
/// The request handlers of the SDK-facing API (spec §2). Reads come from in-process snapshots; the store is
/// consulted only for SDK-key lookups at authentication and stream start, and on a snapshot miss.
/// </summary>
public sealed partial class SdkApi(
    ProxyOptions options,
    SnapshotCache snapshots,
    ConfigRepository repository,
    TokenService tokens,
    StreamHub hub,
    ProxyStatus status,
    Evaluator evaluator,
    ISdkMetricsSink metricsSink,
    ITargetForwarder targetForwarder,
    TargetCache targets,
    ProxyMetrics metrics,
    TimeProvider time,
    ILogger<SdkApi> logger)
{
    /// <summary>Largest request body accepted on POST routes.</summary>
    public const int MaxBodyBytes = 4 * 1024 * 1024;

    private static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public async Task Authenticate(HttpContext context)
    {
        var body = await ReadBodyAsync(context).ConfigureAwait(false);
        if (body is null)
        {
            return;
        }

        if (body.Length == 0)
        {
            await SdkResponses.WriteError(context, 400, "bad request: request body is empty").ConfigureAwait(false);
            return;
        }

        AuthRequest? request;
        try
        {
            request = JsonSerializer.Deserialize(body, ProxyJsonContext.Default.AuthRequest);
        }
        catch (JsonException ex)
        {
            await SdkResponses.WriteError(context, 400, "bad request: body is not a valid auth request: " + JsonProblem(ex)).ConfigureAwait(false);
            return;
        }

        if (string.IsNullOrEmpty(request?.ApiKey))
        {
            await SdkResponses.WriteError(context, 400, "bad request: apiKey cannot be empty").ConfigureAwait(false);
            return;
        }

        var target = request.Target;
        if (target is not null)
        {
            if (string.IsNullOrEmpty(target.Name))
            {
                target = target with { Name = target.Identifier };
            }

            if (!IdentifierPattern().IsMatch(target.Identifier))
            {
                await SdkResponses.WriteError(context, 400, "bad request: target identifier may only contain letters, digits and . @ _ -").ConfigureAwait(false);
                return;
            }

            if (!NamePattern().IsMatch(target.Name ?? ""))
            {
                await SdkResponses.WriteError(context, 400, "bad request: target name may only contain letters, digits, spaces and . @ _ -").ConfigureAwait(false);
                return;
            }
        }

        var keyHash = SdkKeyHash.Compute(request.ApiKey);
        var environment = await repository.GetEnvironmentForKeyAsync(keyHash, context.RequestAborted).ConfigureAwait(false);
        if (environment is null)
        {
            await SdkResponses.WriteError(context, 401, "unauthorised").ConfigureAwait(false);
            return;
        }

        if (target is { Identifier.Length: > 0 })
        {
            if (await SaveTargetAsync(environment, target, context.RequestAborted).ConfigureAwait(false))
            {
                targetForwarder.Forward(request.ApiKey, target);
            }
        }

        var token = tokens.Issue(CacheKeys.AuthKey(keyHash), environment);
        await WriteJsonAsync(context, writer =>
        {
            writer.WriteStartObject();
            writer.WriteString("authToken", token);
            writer.WriteEndObject();
        }).ConfigureAwait(false);
    }

    public async Task GetFeatureConfigs(HttpContext context)
    {
        var snapshot = await SnapshotAsync(context).ConfigureAwait(false);
        await SdkResponses.WriteSnapshotBody(context, snapshot.FeatureConfigs).ConfigureAwait(false);
    }

    public async Task GetFeatureConfig(HttpContext context)
    {
        var snapshot = await SnapshotAsync(context).ConfigureAwait(false);
        var identifier = RouteValue(context, "identifier");
        if (snapshot.FeatureConfigById.TryGetValue(identifier, out var body))
        {
            await SdkResponses.WriteSnapshotBody(context, body).ConfigureAwait(false);
            return;
        }

        await SdkResponses.WriteError(context, 404, $"not found: flag '{identifier}' does not exist in this environment").ConfigureAwait(false);
    }

    public async Task GetSegments(HttpContext context)
    {
        var snapshot = await SnapshotAsync(context).ConfigureAwait(false);
        await SdkResponses.WriteSnapshotBody(context, WantsServingRules(context) ? snapshot.SegmentsV2 : snapshot.Segments).ConfigureAwait(false);
    }

    public async Task GetSegment(HttpContext context)
    {
        var snapshot = await SnapshotAsync(context).ConfigureAwait(false);
        var identifier = RouteValue(context, "identifier");
        var byId = WantsServingRules(context) ? snapshot.SegmentV2ById : snapshot.SegmentById;
        if (byId.TryGetValue(identifier, out var body))
        {
            await SdkResponses.WriteSnapshotBody(context, body).ConfigureAwait(false);
            return;
        }

        await SdkResponses.WriteError(context, 404, $"not found: target group '{identifier}' does not exist in this environment").ConfigureAwait(false);
    }

    public async Task GetEvaluations(HttpContext context)
    {
        var snapshot = await SnapshotAsync(context).ConfigureAwait(false);
        var target = await ResolveTargetAsync(context, snapshot.Environment).ConfigureAwait(false);
        await WriteJsonAsync(context, writer =>
        {
            writer.WriteStartArray();
            foreach (var flag in snapshot.Flags)
            {
                // A flag that cannot be evaluated is still listed, with empty identifier and value (Go proxy).
                var result = evaluator.Evaluate(flag, target, snapshot);
                WriteEvaluation(writer, flag, result.Variation);
            }

            writer.WriteEndArray();
        }).ConfigureAwait(false);
    }

    public async Task GetEvaluation(HttpContext context)
    {
        var snapshot = await SnapshotAsync(context).ConfigureAwait(false);
        var feature = RouteValue(context, "feature");
        if (!snapshot.FlagById.TryGetValue(feature, out var flag))
        {
            await SdkResponses.WriteError(context, 404, "not found").ConfigureAwait(false);
            return;
        }

        var target = await ResolveTargetAsync(context, snapshot.Environment).ConfigureAwait(false);
        var result = evaluator.Evaluate(flag, target, snapshot);
        if (result.Variation is null)
        {
            // The configuration, not the request, is at fault: the flag names a variation it does not have.
            LogEvaluationFailed(logger, feature, snapshot.Environment, result.Error);
            await SdkResponses.WriteError(context, 500, $"flag '{feature}' cannot be evaluated: {result.Error}").ConfigureAwait(false);
            return;
        }

        await WriteJsonAsync(context, writer => WriteEvaluation(writer, flag, result.Variation)).ConfigureAwait(false);
    }

    public async Task PostMetrics(HttpContext context)
    {
        var environment = RouteValue(context, SdkRoute.EnvironmentParameter);
        var body = await ReadBodyAsync(context).ConfigureAwait(false);
        if (body is null)
        {
            return;
        }

        MetricsRequest? request;
        try
        {
            request = body.Length == 0 ? null : JsonSerializer.Deserialize(body, ProxyJsonContext.Default.MetricsRequest);
        }
        catch (JsonException ex)
        {
            await SdkResponses.WriteError(context, 400, "bad request: body is not a valid metrics payload: " + JsonProblem(ex)).ConfigureAwait(false);
            return;
        }

        if (request is null)
        {
            await SdkResponses.WriteError(context, 400, "bad request: request body is empty").ConfigureAwait(false);
            return;
        }

        if (ConfigValidation.Problem(request) is { } problem)
        {
            await SdkResponses.WriteError(context, 400, "bad request: " + problem).ConfigureAwait(false);
            return;
        }

        RecordSdkUsage(environment, request);
        await metricsSink.AcceptAsync(environment, request, body.Length, context.RequestAborted).ConfigureAwait(false);
        await SdkResponses.WriteBytes(context.Response, 200, SdkResponses.JsonContentType, "null\n"u8.ToArray()).ConfigureAwait(false);
    }

    public Task GetHealth(HttpContext context)
    {
        var config = status.Config;
        if (config.State == ConfigStates.FailedToSync)
        {
            return SdkResponses.WriteError(context, 500, "internal error");
        }

        var stream = status.Stream;
        return WriteJsonAsync(context, writer =>
        {
            writer.WriteStartObject();
            writer.WriteStartObject("configStatus");
            writer.WriteString("state", config.State);
            writer.WriteNumber("since", config.Since);
            writer.WriteEndObject();
            writer.WriteStartObject("streamStatus");
            writer.WriteString("state", stream.State);
            writer.WriteNumber("since", stream.Since);
            writer.WriteEndObject();
            writer.WriteString("cacheStatus", status.CacheHealthy ? "healthy" : "unhealthy");
            writer.WriteEndObject();
        });
    }

    /// <summary>
    /// <c>GET /stream</c>: held natively (no Pushpin). Frames come from the <see cref="StreamHub"/>; a
    /// <c>:</c> comment goes out, flushed on its own, whenever the stream was quiet for the heartbeat interval
    /// (<see cref="StreamHeartbeat"/>; the loop is <see cref="StreamWriter"/>).
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

        var environment = await repository.GetEnvironmentForKeyAsync(SdkKeyHash.Compute(apiKey), context.RequestAborted).ConfigureAwait(false);
        if (environment is null)
        {
            // The Go proxy echoes the raw key here; a secret never goes into a response.
            await SdkResponses.WriteError(context, 404, "not found: no environment found for the API-Key").ConfigureAwait(false);
            return;
        }

        using var connection = hub.Connect(environment);
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

        LogStreamOpened(logger, environment);
        var aborted = context.RequestAborted;
        try
        {
            await StreamWriter.RunAsync(response, connection, time, aborted).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (aborted.IsCancellationRequested)
        {
            // The SDK went away.
        }

        LogStreamClosed(logger, environment);
    }

    private async Task<EnvironmentSnapshot> SnapshotAsync(HttpContext context) =>
        await snapshots.GetAsync(RouteValue(context, SdkRoute.EnvironmentParameter), context.RequestAborted).ConfigureAwait(false);

    private bool WantsServingRules(HttpContext context) =>
        options.AndRules && string.Equals(context.Request.Query["rules"].ToString(), "v2", StringComparison.Ordinal);

    private async Task<Target> ResolveTargetAsync(HttpContext context, string environment)
    {
        var identifier = RouteValue(context, "target");
        var header = context.Request.Headers["Harness-Target"].ToString();
        if (header.Length > 0)
        {
            if (TargetHeader.TryDecode(header, out var fromHeader))
            {
                return fromHeader.Identifier.Length > 0 ? fromHeader : fromHeader with { Identifier = identifier };
            }

            LogBadTargetHeader(logger, environment);
        }

        if (!targets.TryGet(environment, identifier, out var stored))
        {
            try
            {
                stored = await repository.GetTargetAsync(environment, identifier, context.RequestAborted).ConfigureAwait(false);
                targets.Set(environment, identifier, stored);
            }
            catch (StoreUnavailableException ex)
            {
                LogTargetLookupFailed(logger, environment, ex);
            }
        }

        return stored ?? new Target { Identifier = identifier };
    }

    /// <summary>Largest target (serialized JSON) stored and forwarded from <c>/client/auth</c>.</summary>
    public const int MaxStoredTargetBytes = 64 * 1024;

    /// <summary>False when the target is too large to keep (then it is not forwarded either).</summary>
    private async Task<bool> SaveTargetAsync(string environment, Target target, CancellationToken cancellationToken)
    {
        var stored = new Target
        {
            Account = "",
            Anonymous = target.Anonymous ?? false,
            Attributes = target.Attributes ?? [],
            Environment = "",
            Identifier = target.Identifier,
            Name = target.Name,
            Org = "",
            Project = "",
        };

        var size = JsonSerializer.SerializeToUtf8Bytes(stored, ProxyJsonContext.Default.Target).Length;
        if (size > MaxStoredTargetBytes)
        {
            // Authentication still succeeds; evaluations use the Harness-Target header or the identifier alone.
            LogTargetTooLarge(logger, environment, size);
            return false;
        }

        try
        {
            targets.Set(environment, stored.Identifier, stored);
            await repository.SaveTargetAsync(environment, stored, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is StoreUnavailableException or OperationCanceledException)
        {
            // Authentication does not depend on it; evaluations fall back to the path identifier.
            LogTargetSaveFailed(logger, environment, ex);
        }

        return true;
    }

    private void RecordSdkUsage(string environment, MetricsRequest request)
    {
        var attributes = request.MetricsData is { Count: > 0 } data ? data[0].Attributes : null;
        if (attributes is null)
        {
            return;
        }

        string type = "", version = "", language = "";
        foreach (var attribute in attributes)
        {
            switch (attribute.Key)
            {
                case "SDK_TYPE": type = attribute.Value; break;
                case "SDK_VERSION" or "JAR_VERSION": version = attribute.Value; break;
                case "SDK_LANGUAGE": language = attribute.Value; break;
            }
        }

        metrics.RecordSdkUsage(environment, type, version, language);
    }

    private static void WriteEvaluation(Utf8JsonWriter writer, FeatureConfig flag, Variation? variation)
    {
        writer.WriteStartObject();
        writer.WriteString("flag", flag.Feature);
        writer.WriteString("identifier", variation?.Identifier ?? "");
        writer.WriteString("kind", flag.Kind);

        // json values are sent as the variation's string, not encoded a second time (spec §2.9 quirk).
        writer.WriteString("value", variation?.Value ?? "");
        writer.WriteEndObject();
    }

    private static Task WriteJsonAsync(HttpContext context, Action<Utf8JsonWriter> write)
    {
        var buffer = new ArrayBufferWriter<byte>(1024);
        using (var writer = new Utf8JsonWriter(buffer, WriterOptions))
        {
            write(writer);
        }

        buffer.Write("\n"u8);
        return SdkResponses.WriteBytes(context.Response, 200, SdkResponses.JsonContentType, buffer.WrittenMemory);
    }

    /// <summary>Reads a POST body within <see cref="MaxBodyBytes"/>; null after answering 413.</summary>
    private static async Task<byte[]?> ReadBodyAsync(HttpContext context)
    {
        if (context.Request.ContentLength > MaxBodyBytes)
        {
            await SdkResponses.WriteError(context, 413, $"bad request: body larger than {MaxBodyBytes} bytes").ConfigureAwait(false);
            return null;
        }

        using var buffer = new MemoryStream();
        var chunk = ArrayPool<byte>.Shared.Rent(16 * 1024);
        try
        {
            int read;
            while ((read = await context.Request.Body.ReadAsync(chunk, context.RequestAborted).ConfigureAwait(false)) > 0)
            {
                if (buffer.Length + read > MaxBodyBytes)
                {
                    await SdkResponses.WriteError(context, 413, $"bad request: body larger than {MaxBodyBytes} bytes").ConfigureAwait(false);
                    return null;
                }

                buffer.Write(chunk, 0, read);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(chunk);
        }

        return buffer.ToArray();
    }

    /// <summary>Where the JSON went wrong, without quoting the input (it may hold an SDK key).</summary>
    private static string JsonProblem(JsonException ex) =>
        ex.Path is { Length: > 0 } path ? $"invalid value at {path} (line {ex.LineNumber + 1}, byte {ex.BytePositionInLine + 1})" : $"malformed JSON (line {ex.LineNumber + 1}, byte {ex.BytePositionInLine + 1})";

    private static string RouteValue(HttpContext context, string name) => context.GetRouteValue(name) as string ?? "";

    // \z, not $: $ also matches before a final newline, and Go's RE2 rejects "abc\n".
    [GeneratedRegex(@"^[A-Za-z0-9.@_-]*\z")]
    private static partial Regex IdentifierPattern();

    [GeneratedRegex(@"^[\p{L}0-9 .@_-]*\z")]
    private static partial Regex NamePattern();

    [LoggerMessage(EventId = 2101, Level = LogLevel.Information, Message = "SDK stream opened for environment {Environment}")]
    private static partial void LogStreamOpened(ILogger logger, string environment);

    [LoggerMessage(EventId = 2102, Level = LogLevel.Information, Message = "SDK stream closed for environment {Environment}")]
    private static partial void LogStreamClosed(ILogger logger, string environment);

    [LoggerMessage(EventId = 2108, Level = LogLevel.Warning, Message = "Target of {Size} bytes authenticated in environment {Environment} is over the limit; not stored or forwarded")]
    private static partial void LogTargetTooLarge(ILogger logger, string environment, int size);

    [LoggerMessage(EventId = 2103, Level = LogLevel.Warning, Message = "Harness-Target header of a request to environment {Environment} is not base64 JSON of a target; ignoring it")]
    private static partial void LogBadTargetHeader(ILogger logger, string environment);

    [LoggerMessage(EventId = 2104, Level = LogLevel.Warning, Message = "Could not look up the stored target in environment {Environment}")]
    private static partial void LogTargetLookupFailed(ILogger logger, string environment, Exception exception);

    [LoggerMessage(EventId = 2105, Level = LogLevel.Warning, Message = "Could not store the authenticated target in environment {Environment}")]
    private static partial void LogTargetSaveFailed(ILogger logger, string environment, Exception exception);

    [LoggerMessage(EventId = 2106, Level = LogLevel.Error, Message = "Flag {Flag} of environment {Environment} cannot be evaluated: {Reason}")]
    private static partial void LogEvaluationFailed(ILogger logger, string flag, string environment, string? reason);
}

using System.Text.Json;
using FfProxy.Core.Caching;
using FfProxy.Core.Domain;
using FfProxy.Core.Evaluation;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace FfProxy.Core.Sdk;

/// <summary>
/// The client SDKs' evaluations (spec §2.9) from the environment's snapshot. The target is the
/// <c>Harness-Target</c> header when it decodes, else the one stored at <c>/client/auth</c>: from the
/// <see cref="TargetCache"/>, or read from the store on a cache miss.
/// </summary>
public sealed partial class EvaluationRoutes(
    SnapshotCache snapshots,
    ConfigRepository repository,
    Evaluator evaluator,
    TargetCache targets,
    ILogger<EvaluationRoutes> logger)
{
    public async Task GetEvaluations(HttpContext context)
    {
        var snapshot = await SnapshotAsync(context).ConfigureAwait(false);
        var target = await ResolveTargetAsync(context, snapshot.Environment).ConfigureAwait(false);
        await SdkResponses.WriteJson(context, writer =>
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
        var feature = SdkRequest.RouteValue(context, "feature");
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

        await SdkResponses.WriteJson(context, writer => WriteEvaluation(writer, flag, result.Variation)).ConfigureAwait(false);
    }

    private async Task<EnvironmentSnapshot> SnapshotAsync(HttpContext context) =>
        await snapshots.GetAsync(SdkRequest.RouteValue(context, SdkRoute.EnvironmentParameter), context.RequestAborted).ConfigureAwait(false);

    private async Task<Target> ResolveTargetAsync(HttpContext context, string environment)
    {
        var identifier = SdkRequest.RouteValue(context, "target");
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

    [LoggerMessage(EventId = 2103, Level = LogLevel.Warning, Message = "Harness-Target header of a request to environment {Environment} is not base64 JSON of a target; ignoring it")]
    private static partial void LogBadTargetHeader(ILogger logger, string environment);

    [LoggerMessage(EventId = 2104, Level = LogLevel.Warning, Message = "Could not look up the stored target in environment {Environment}")]
    private static partial void LogTargetLookupFailed(ILogger logger, string environment, Exception exception);

    [LoggerMessage(EventId = 2106, Level = LogLevel.Error, Message = "Flag {Flag} of environment {Environment} cannot be evaluated: {Reason}")]
    private static partial void LogEvaluationFailed(ILogger logger, string flag, string environment, string? reason);
}

using System.Buffers;
using FfProxy.Core.Caching;
using FfProxy.Core.Domain;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace FfProxy.Core.Sdk;

/// <summary>
/// The client SDKs' evaluations (spec §2.9) from the environment's snapshot. The target is the
/// <c>Harness-Target</c> header when it decodes, else the one stored at <c>/client/auth</c>: from the
/// <see cref="TargetCache"/>, or read from the store on a cache miss.
/// </summary>
internal sealed partial class EvaluationRoutes(
    SnapshotCache snapshots,
    ConfigRepository repository,
    TargetCache targets,
    ILogger<EvaluationRoutes> logger)
{
    public async Task GetEvaluations(HttpContext context)
    {
        var snapshot = await SnapshotAsync(context).ConfigureAwait(false);
        var target = await ResolveTargetAsync(context, snapshot.Environment).ConfigureAwait(false);
        var plan = snapshot.EvaluationPlan;

        // The only allocation is the pooled response buffer: the plan copies pre-encoded evaluation objects.
        var buffer = ArrayPool<byte>.Shared.Rent(plan.AllResponseLength);
        try
        {
            var length = plan.WriteAll(target, buffer);
            await SdkResponses.WriteBytes(context.Response, 200, SdkResponses.JsonContentType, buffer.AsMemory(0, length)).ConfigureAwait(false);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    public async Task GetEvaluation(HttpContext context)
    {
        var snapshot = await SnapshotAsync(context).ConfigureAwait(false);
        var feature = SdkRequest.RouteValue(context, "feature");
        var plan = snapshot.EvaluationPlan;
        if (!plan.TryGetIndex(feature, out var index))
        {
            await SdkResponses.WriteError(context, 404, "not found").ConfigureAwait(false);
            return;
        }

        var target = await ResolveTargetAsync(context, snapshot.Environment).ConfigureAwait(false);
        var body = plan.EvaluationBody(index, target);
        if (body.IsEmpty)
        {
            // The configuration, not the request, is at fault: the flag names a variation it does not have.
            var error = plan.Evaluate(index, target).Error;
            LogEvaluationFailed(logger, feature, snapshot.Environment, error);
            await SdkResponses.WriteError(context, 500, $"flag '{feature}' cannot be evaluated: {error}").ConfigureAwait(false);
            return;
        }

        await SdkResponses.WriteBytes(context.Response, 200, SdkResponses.JsonContentType, body).ConfigureAwait(false);
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

    [LoggerMessage(EventId = LogEventIds.Sdk.BadTargetHeader, Level = LogLevel.Warning, Message = "Harness-Target header of a request to environment {Environment} is not base64 JSON of a target; ignoring it")]
    private static partial void LogBadTargetHeader(ILogger logger, string environment);

    [LoggerMessage(EventId = LogEventIds.Sdk.TargetLookupFailed, Level = LogLevel.Warning, Message = "Could not look up the stored target in environment {Environment}")]
    private static partial void LogTargetLookupFailed(ILogger logger, string environment, Exception exception);

    [LoggerMessage(EventId = LogEventIds.Sdk.EvaluationFailed, Level = LogLevel.Error, Message = "Flag {Flag} of environment {Environment} cannot be evaluated: {Reason}")]
    private static partial void LogEvaluationFailed(ILogger logger, string flag, string environment, string? reason);
}

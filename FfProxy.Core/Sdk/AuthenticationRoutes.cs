using System.Text.Json;
using System.Text.RegularExpressions;
using FfProxy.Core.Caching;
using FfProxy.Core.Domain;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace FfProxy.Core.Sdk;

/// <summary>
/// <c>POST /client/auth</c> (spec §2.5): an SDK key for a token. Reads the store for the key's environment (the
/// snapshots' keys when the store lacks it or is down) and writes the authenticated target to it (and to the <see cref="TargetCache"/>), which evaluations read back.
/// </summary>
internal sealed partial class AuthenticationRoutes(
    SnapshotCache snapshots,
    ConfigRepository repository,
    TokenService tokens,
    ITargetForwarder targetForwarder,
    TargetCache targets,
    TargetStoreBudget budget,
    ILogger<AuthenticationRoutes> logger)
{
    /// <summary>Largest target (serialized JSON) stored and forwarded from <c>/client/auth</c>.</summary>
    public const int MaxStoredTargetBytes = 64 * 1024;

    public async Task Authenticate(HttpContext context)
    {
        var body = await SdkRequest.ReadBodyAsync(context).ConfigureAwait(false);
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
            await SdkResponses.WriteError(context, 400, "bad request: body is not a valid auth request: " + SdkRequest.JsonProblem(ex)).ConfigureAwait(false);
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
        var environment = await snapshots.FindEnvironmentOfKeyAsync(keyHash, context.RequestAborted).ConfigureAwait(false);
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
        await SdkResponses.WriteJson(context, writer =>
        {
            writer.WriteStartObject();
            writer.WriteString("authToken", token);
            writer.WriteEndObject();
        }).ConfigureAwait(false);
    }

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

        if (!budget.TryTake(environment, stored.Identifier))
        {
            // Bounds what a public client key can make the store keep; authentication still succeeds.
            LogTargetBudgetSpent(logger, environment, TargetStoreBudget.MaxPerEnvironment);
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

    // \z, not $: $ also matches before a final newline, and Go's RE2 rejects "abc\n".
    [GeneratedRegex(@"^[A-Za-z0-9.@_-]*\z")]
    private static partial Regex IdentifierPattern();

    [GeneratedRegex(@"^[\p{L}0-9 .@_-]*\z")]
    private static partial Regex NamePattern();

    [LoggerMessage(EventId = LogEventIds.Sdk.TargetTooLarge, Level = LogLevel.Warning, Message = "Target of {Size} bytes authenticated in environment {Environment} is over the limit; not stored or forwarded")]
    private static partial void LogTargetTooLarge(ILogger logger, string environment, int size);

    [LoggerMessage(EventId = LogEventIds.Sdk.TargetBudgetSpent, Level = LogLevel.Warning, Message = "Environment {Environment} already has {Limit} targets stored by this process in the expiry window; a new one is not stored or forwarded")]
    private static partial void LogTargetBudgetSpent(ILogger logger, string environment, int limit);

    [LoggerMessage(EventId = LogEventIds.Sdk.TargetSaveFailed, Level = LogLevel.Warning, Message = "Could not store the authenticated target in environment {Environment}")]
    private static partial void LogTargetSaveFailed(ILogger logger, string environment, Exception exception);
}

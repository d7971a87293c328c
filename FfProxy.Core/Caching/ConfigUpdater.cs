using FfProxy.Core.Domain;
using FfProxy.Core.Messaging;
using Microsoft.Extensions.Logging;

namespace FfProxy.Core.Caching;

/// <summary>
/// The one write path for configuration (offline directory or SaaS): store first, then this process's
/// snapshot, then notifications, so an SDK that refetches on an event always sees the new data.
/// </summary>
public sealed partial class ConfigUpdater(
    ConfigRepository repository,
    SnapshotCache snapshots,
    IEnumerable<IChangeSink> sinks,
    ILogger<ConfigUpdater> logger)
{
    private readonly IChangeSink[] _sinks = [.. sinks];

    public async Task<ConfigChanges> ApplyAsync(EnvironmentConfig config, ItemVersioning versioning, CancellationToken cancellationToken)
    {
        var changes = await repository.ReplaceEnvironmentAsync(config, versioning, cancellationToken).ConfigureAwait(false);
        if (!changes.StoreChanged)
        {
            return changes;
        }

        await snapshots.RefreshAsync(config.Environment, cancellationToken).ConfigureAwait(false);
        foreach (var change in changes.Events)
        {
            await PublishAsync(change, cancellationToken).ConfigureAwait(false);
        }

        foreach (var removedKey in changes.RemovedApiKeys)
        {
            // Streams of the environment end, so SDKs using the removed key re-authenticate (and fail).
            await PublishAsync(new StreamMessage
            {
                Event = StreamEvents.ApiKeyRemoved,
                Domain = StreamEvents.ProxyDomain,
                Environments = [config.Environment],
                ApiKey = removedKey[CacheKeys.AuthKeyPrefix.Length..],
            }, cancellationToken).ConfigureAwait(false);
        }

        return changes;
    }

    public async Task RemoveAsync(string environment, CancellationToken cancellationToken)
    {
        await repository.RemoveEnvironmentAsync(environment, cancellationToken).ConfigureAwait(false);
        snapshots.Remove(environment);
        LogEnvironmentRemoved(logger, environment);
        await PublishAsync(new StreamMessage
        {
            Event = StreamEvents.EnvironmentsRemoved,
            Domain = StreamEvents.ProxyDomain,
            Environments = [environment],
        }, cancellationToken).ConfigureAwait(false);
    }

    private async Task PublishAsync(StreamMessage message, CancellationToken cancellationToken)
    {
        foreach (var sink in _sinks)
        {
            await sink.PublishAsync(message, cancellationToken).ConfigureAwait(false);
        }
    }

    [LoggerMessage(EventId = 1401, Level = LogLevel.Information, Message = "Environment {Environment} removed")]
    private static partial void LogEnvironmentRemoved(ILogger logger, string environment);
}

using FfProxy.Core.Caching;
using FfProxy.Core.Domain;
using FfProxy.Core.Messaging;

namespace FfProxy.Primary.ConfigStore;

/// <summary>
/// The one write path for configuration (offline directory or SaaS): store first, then this process's snapshot,
/// then notifications, so an SDK that refetches on an event always sees the new data. Callers that hold the current
/// configuration in memory pass it, and nothing is read back from the store.
/// </summary>
internal sealed partial class ConfigWriter(
    IKeyValueStore store,
    ConfigRepository repository,
    SnapshotCache snapshots,
    IEnumerable<IChangeSink> sinks,
    ILogger<ConfigWriter> logger)
{
    private readonly IChangeSink[] _sinks = [.. sinks];

    /// <summary>Replaces what the store holds for the environment, comparing with the store's current content.</summary>
    public async Task<EnvironmentWrite> ApplyAsync(EnvironmentConfig next, ItemVersioning versioning, CancellationToken cancellationToken)
    {
        var current = await StoredConfig.ReadAsync(repository, next.Environment, cancellationToken).ConfigureAwait(false);
        return await ApplyAsync(current, next, versioning, announceCreates: true, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Replaces <paramref name="current"/> (what the store holds, known to the caller) with <paramref name="next"/>.</summary>
    public async Task<EnvironmentWrite> ApplyAsync(
        EnvironmentConfig current, EnvironmentConfig next, ItemVersioning versioning, bool announceCreates, CancellationToken cancellationToken)
    {
        var write = EnvironmentWrite.Plan(current, next, versioning, announceCreates);
        if (!write.StoreChanged)
        {
            return write;
        }

        await WriteAsync(write, cancellationToken).ConfigureAwait(false);

        // The Primary keeps snapshots only of environments it serves; others load on their first request.
        await snapshots.InstallIfServedAsync(next.Environment, write.ToStoredEnvironment, cancellationToken).ConfigureAwait(false);
        write.ReturnBuffers();

        var events = new List<StreamMessage>(write.Events);
        foreach (var removedKey in write.RemovedApiKeys)
        {
            // Streams of the environment end, so SDKs using the removed key re-authenticate (and fail).
            events.Add(new StreamMessage
            {
                Event = StreamEvents.ApiKeyRemoved,
                Domain = StreamEvents.ProxyDomain,
                Environments = [next.Environment],
                ApiKey = removedKey[CacheKeys.AuthKeyPrefix.Length..],
            });
        }

        await PublishAsync(events, cancellationToken).ConfigureAwait(false);
        if (write.Events.Count > 0 || write.AddedApiKeys.Count > 0 || write.RemovedApiKeys.Count > 0)
        {
            LogEnvironmentReplaced(logger, next.Environment, write.Events.Count, write.AddedApiKeys.Count, write.RemovedApiKeys.Count);
        }

        return write;
    }

    /// <summary>Writes <paramref name="config"/> in full without notifying anyone (after the store lost its data).</summary>
    public async Task RewriteAsync(EnvironmentConfig config, CancellationToken cancellationToken)
    {
        var write = EnvironmentWrite.Plan(EnvironmentConfig.Empty(config.Environment), config, ItemVersioning.AsReceived);
        await WriteAsync(write, cancellationToken).ConfigureAwait(false);
        write.ReturnBuffers();
    }

    /// <summary>Deletes every key of an environment, drops its snapshot and ends its SDK streams here and on Replicas.</summary>
    public async Task RemoveAsync(EnvironmentConfig current, CancellationToken cancellationToken)
    {
        var env = current.Environment;
        var write = EnvironmentWrite.Plan(current, EnvironmentConfig.Empty(env), ItemVersioning.AsReceived);
        await WriteAsync(write, cancellationToken).ConfigureAwait(false);
        write.ReturnBuffers();
        var targetKeys = new List<string>();
        await foreach (var key in store.ScanAsync(CacheKeys.TargetConfigPrefix(env), cancellationToken).ConfigureAwait(false))
        {
            targetKeys.Add(key);
        }

        if (targetKeys.Count > 0)
        {
            await store.DeleteAsync(targetKeys, cancellationToken).ConfigureAwait(false);
        }

        snapshots.Remove(env);
        LogEnvironmentRemoved(logger, env);
        await PublishAsync([new StreamMessage
        {
            Event = StreamEvents.EnvironmentsRemoved,
            Domain = StreamEvents.ProxyDomain,
            Environments = [env],
        }], cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Removes an environment, comparing with the store's current content.</summary>
    public async Task RemoveAsync(string environment, CancellationToken cancellationToken) =>
        await RemoveAsync(await StoredConfig.ReadAsync(repository, environment, cancellationToken).ConfigureAwait(false), cancellationToken).ConfigureAwait(false);

    /// <summary>Data first, deletions last: a reader never sees a list that names a key already gone.</summary>
    private async Task WriteAsync(EnvironmentWrite write, CancellationToken cancellationToken)
    {
        if (write.Writes.Count > 0)
        {
            await store.SetAsync([.. write.Writes], cancellationToken).ConfigureAwait(false);
        }

        if (write.Deletes.Count > 0)
        {
            await store.DeleteAsync([.. write.Deletes], cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task PublishAsync(List<StreamMessage> messages, CancellationToken cancellationToken)
    {
        if (messages.Count == 0)
        {
            return;
        }

        foreach (var sink in _sinks)
        {
            await sink.PublishAllAsync(messages, cancellationToken).ConfigureAwait(false);
        }
    }

    [LoggerMessage(EventId = LogEventIds.PrimaryConfigStore.EnvironmentReplaced, Level = LogLevel.Information, Message = "Environment {Environment} stored: {EventCount} flag/group changes, {AddedKeys} SDK keys added, {RemovedKeys} removed")]
    private static partial void LogEnvironmentReplaced(ILogger logger, string environment, int eventCount, int addedKeys, int removedKeys);

    [LoggerMessage(EventId = LogEventIds.PrimaryConfigStore.EnvironmentRemoved, Level = LogLevel.Information, Message = "Environment {Environment} removed")]
    private static partial void LogEnvironmentRemoved(ILogger logger, string environment);
}

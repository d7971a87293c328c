using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace FfProxy.Core.Caching;

/// <summary>
/// The per-environment snapshots of this process. Reads are lock-free; a miss loads from the store once
/// (concurrent readers share the load). <see cref="RefreshAsync"/> rebuilds and swaps, so requests keep
/// being served from the previous snapshot until the new one is complete.
/// </summary>
public sealed partial class SnapshotCache(ConfigRepository repository, SnapshotBuilder builder, ILogger<SnapshotCache> logger)
{
    private readonly ConcurrentDictionary<string, EnvironmentSnapshot> _snapshots = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Lazy<Task<EnvironmentSnapshot>>> _loading = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, SemaphoreSlim> _refreshLocks = new(StringComparer.Ordinal);

    /// <summary>Environments with a snapshot in this process.</summary>
    public ICollection<string> Environments => _snapshots.Keys;

    public ValueTask<EnvironmentSnapshot> GetAsync(string env, CancellationToken cancellationToken)
    {
        if (_snapshots.TryGetValue(env, out var snapshot))
        {
            return ValueTask.FromResult(snapshot);
        }

        return new ValueTask<EnvironmentSnapshot>(LoadOnMissAsync(env, cancellationToken));
    }

    /// <summary>Rebuilds the snapshot of <paramref name="env"/> from the store and swaps it in.</summary>
    public async Task<EnvironmentSnapshot> RefreshAsync(string env, CancellationToken cancellationToken)
    {
        // Serialised per environment so an older load can never overwrite a newer one.
        var gate = _refreshLocks.GetOrAdd(env, static _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var snapshot = builder.Build(await repository.LoadEnvironmentAsync(env, cancellationToken).ConfigureAwait(false));
            Install(snapshot);
            return snapshot;
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>
    /// Reloads every environment this process serves and loads every environment the store holds SDK keys of
    /// (found by <c>env-*-api-configs</c>), so requests are served from memory even while the store is away.
    /// </summary>
    public async Task RefreshAllAsync(CancellationToken cancellationToken)
    {
        var environments = new HashSet<string>(_snapshots.Keys, StringComparer.Ordinal);
        await foreach (var key in repository.Store.ScanAsync("env-", cancellationToken).ConfigureAwait(false))
        {
            if (key.EndsWith(ApiConfigsSuffix, StringComparison.Ordinal) && key.Length > 4 + ApiConfigsSuffix.Length)
            {
                environments.Add(key[4..^ApiConfigsSuffix.Length]);
            }
        }

        foreach (var env in environments)
        {
            await RefreshAsync(env, cancellationToken).ConfigureAwait(false);
        }
    }

    private const string ApiConfigsSuffix = "-api-configs";

    /// <summary>
    /// The environment of an SDK key hash: from the store, or, when the store does not know it (emptied by a restart
    /// and not yet written again) or is unreachable, from this process's snapshots, so known keys keep authenticating.
    /// </summary>
    public async Task<string?> FindEnvironmentOfKeyAsync(string keyHash, CancellationToken cancellationToken)
    {
        try
        {
            if (await repository.GetEnvironmentForKeyAsync(keyHash, cancellationToken).ConfigureAwait(false) is { } stored)
            {
                return stored;
            }
        }
        catch (StoreUnavailableException)
        {
            // Served from memory below.
        }

        var key = CacheKeys.AuthKey(keyHash);
        return _snapshots.Values.FirstOrDefault(s => s.ApiKeys.Contains(key))?.Environment;
    }

    public void Remove(string env) => _snapshots.TryRemove(env, out _);

    private void Install(EnvironmentSnapshot snapshot)
    {
        if (snapshot.Exists)
        {
            _snapshots[snapshot.Environment] = snapshot;
        }
        else
        {
            // Unknown environments are not cached, so arbitrary path values cannot grow this process.
            _snapshots.TryRemove(snapshot.Environment, out _);
        }
    }

    private async Task<EnvironmentSnapshot> LoadOnMissAsync(string env, CancellationToken cancellationToken)
    {
        var lazy = _loading.GetOrAdd(env, key => new Lazy<Task<EnvironmentSnapshot>>(() => LoadAsync(key)));
        try
        {
            return await lazy.Value.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _loading.TryRemove(new KeyValuePair<string, Lazy<Task<EnvironmentSnapshot>>>(env, lazy));
        }
    }

    private async Task<EnvironmentSnapshot> LoadAsync(string env)
    {
        LogMiss(logger, env);
        var snapshot = builder.Build(await repository.LoadEnvironmentAsync(env, CancellationToken.None).ConfigureAwait(false));

        // A refresh may have installed a newer snapshot while this load ran.
        if (_snapshots.TryGetValue(env, out var current))
        {
            return current;
        }

        Install(snapshot);
        return snapshot;
    }

    [LoggerMessage(EventId = 1301, Level = LogLevel.Debug, Message = "Snapshot miss for environment {Environment}; loading from the store")]
    private static partial void LogMiss(ILogger logger, string environment);
}

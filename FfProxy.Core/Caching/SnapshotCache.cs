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
    /// Environments are read in pipelined batches and built in parallel; returns how many were loaded.
    /// </summary>
    public async Task<int> RefreshAllAsync(CancellationToken cancellationToken)
    {
        var environments = new HashSet<string>(_snapshots.Keys, StringComparer.Ordinal);
        await foreach (var key in repository.Store.ScanAsync(CacheKeys.EnvironmentPrefix, cancellationToken).ConfigureAwait(false))
        {
            if (CacheKeys.EnvironmentOfApiConfigs(key) is { } env)
            {
                environments.Add(env);
            }
        }

        var batches = environments.Chunk(LoadBatchSize);
        var options = new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount, CancellationToken = cancellationToken };
        await Parallel.ForEachAsync(batches, options, async (batch, token) =>
        {
            // Every gate of the batch is held from read to swap, so an event's refresh is never overwritten by older data.
            var gates = Array.ConvertAll(batch, env => _refreshLocks.GetOrAdd(env, static _ => new SemaphoreSlim(1, 1)));
            var held = 0;
            try
            {
                for (; held < gates.Length; held++)
                {
                    await gates[held].WaitAsync(token).ConfigureAwait(false);
                }

                foreach (var stored in await repository.LoadEnvironmentsAsync(batch, token).ConfigureAwait(false))
                {
                    Install(builder.Build(stored));
                }
            }
            finally
            {
                for (var i = 0; i < held; i++)
                {
                    gates[i].Release();
                }
            }
        }).ConfigureAwait(false);
        return environments.Count;
    }

    /// <summary>
    /// The Primary's write path, after writing <paramref name="stored"/>: swaps in a snapshot built from it without
    /// reading the store back, when this process serves the environment or is loading it. Other environments load
    /// on their first request (a load that starts now reads what was just written). The caller applies one
    /// environment's changes in order.
    /// </summary>
    /// <param name="environment">The environment written.</param>
    /// <param name="stored">What it holds now; called only when the snapshot is installed, since joining the lists of
    /// an environment nobody asks for here would be waste on every event.</param>
    /// <param name="cancellationToken">Ends the wait for the environment's refresh lock.</param>
    public async Task InstallIfServedAsync(string environment, Func<StoredEnvironment> stored, CancellationToken cancellationToken)
    {
        if (!_snapshots.ContainsKey(environment) && !_loading.ContainsKey(environment))
        {
            return;
        }

        var gate = _refreshLocks.GetOrAdd(environment, static _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            Install(builder.Build(stored()));
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>Environments read per pipelined batch when loading everything.</summary>
    private const int LoadBatchSize = 32;

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
            // An environment that evaluations use gets its new plan here, off the request path.
            if (_snapshots.TryGetValue(snapshot.Environment, out var previous) && previous.HasEvaluationPlan)
            {
                _ = snapshot.EvaluationPlan;
            }

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

    [LoggerMessage(EventId = LogEventIds.Caching.Miss, Level = LogLevel.Debug, Message = "Snapshot miss for environment {Environment}; loading from the store")]
    private static partial void LogMiss(ILogger logger, string environment);
}

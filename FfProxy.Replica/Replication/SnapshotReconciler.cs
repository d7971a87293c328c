using FfProxy.Core.Caching;
using FfProxy.Core.Domain;
using FfProxy.Core.Hosting;
using FfProxy.Core.Sdk;
using Microsoft.Extensions.Options;

namespace FfProxy.Replica.Replication;

/// <summary>
/// Keeps this Replica's snapshots equal to the store when change events were missed: after a gap in
/// <c>proxy:sse_events</c> (Redis restarted, the Replica was cut off), and every
/// <see cref="ReplicationTimings.Reconciliation"/> for events that never arrive (a Go Primary that notifies before
/// it writes, entries trimmed past MAXLEN). The periodic check reads only the <c>-latest</c> hashes of each
/// environment's lists and reloads an environment when they differ from what its snapshot was built from. Every flag
/// or group whose version changed by a reload is announced to this process's SDK streams (create, patch or delete),
/// since no event will tell them.
/// </summary>
internal sealed partial class SnapshotReconciler(
    IKeyValueStore store,
    SnapshotCache snapshots,
    SdkStreamHub hub,
    IOptions<ReplicationTimings> timings,
    TimeProvider time,
    ILogger<SnapshotReconciler> logger) : SupervisedLoop
{
    private readonly SemaphoreSlim _gate = new(1, 1);

    // The -latest hashes each environment's snapshot was last reloaded under (read before the reload).
    private readonly Dictionary<string, string> _builtFrom = new(StringComparer.Ordinal);

    protected override TimeProvider Time => time;

    protected override ILogger Logger => logger;

    /// <summary>Reloads every environment (after a gap) and announces what changed; returns the number of events.</summary>
    public Task<int> ReloadAllAsync(CancellationToken cancellationToken) => ReconcileAsync(everything: true, cancellationToken);

    /// <summary>Reloads the environments whose <c>-latest</c> hashes changed and announces what changed.</summary>
    public Task<int> CheckAsync(CancellationToken cancellationToken) => ReconcileAsync(everything: false, cancellationToken);

    public override void Dispose()
    {
        _gate.Dispose();
        base.Dispose();
    }

    protected override async Task RunAsync(CancellationToken stoppingToken)
    {
        var interval = timings.Value.Reconciliation;
        if (interval <= TimeSpan.Zero)
        {
            return;
        }

        using var timer = new PeriodicTimer(interval, time);
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
        {
            try
            {
                await CheckAsync(stoppingToken).ConfigureAwait(false);
            }
            catch (StoreUnavailableException ex)
            {
                LogStoreFailed(logger, ex.Message);
            }
        }
    }

    private async Task<int> ReconcileAsync(bool everything, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var environments = snapshots.Environments.ToList();
            var hashes = await ReadHashesAsync(environments, cancellationToken).ConfigureAwait(false);
            var published = 0;
            foreach (var environment in environments)
            {
                var latest = hashes[environment];
                if (latest is null)
                {
                    // The store lost this environment (an emptied Redis): keep serving the snapshot until the Primary
                    // writes it again.
                    continue;
                }

                if (!everything && _builtFrom.TryGetValue(environment, out var built) && built == latest)
                {
                    continue;
                }

                var before = await snapshots.GetAsync(environment, cancellationToken).ConfigureAwait(false);
                var after = await snapshots.RefreshAsync(environment, cancellationToken).ConfigureAwait(false);
                _builtFrom[environment] = latest;
                published += Announce(before, after);
            }

            if (everything)
            {
                // Environments the store has that this process did not serve yet.
                await snapshots.RefreshAllAsync(cancellationToken).ConfigureAwait(false);
            }

            if (published > 0)
            {
                LogReconciled(logger, published);
            }

            return published;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Both <c>-latest</c> hashes of each environment, read together; null when the store holds neither.</summary>
    private async Task<Dictionary<string, string?>> ReadHashesAsync(List<string> environments, CancellationToken cancellationToken)
    {
        var reads = environments.Select(async environment =>
        {
            var flags = store.GetAsync(CacheKeys.Latest(CacheKeys.FeatureConfigs(environment)), cancellationToken);
            var segments = store.GetAsync(CacheKeys.Latest(CacheKeys.Segments(environment)), cancellationToken);
            var (f, s) = (await flags.ConfigureAwait(false), await segments.ConfigureAwait(false));
            string? combined = f is null && s is null ? null : Convert.ToHexString(f ?? []) + "/" + Convert.ToHexString(s ?? []);
            return (environment, combined);
        }).ToList();
        var results = await Task.WhenAll(reads).ConfigureAwait(false);
        return results.ToDictionary(r => r.environment, r => r.combined, StringComparer.Ordinal);
    }

    private int Announce(EnvironmentSnapshot before, EnvironmentSnapshot after)
    {
        var count = Compare(StreamEvents.FlagDomain, before.FlagVersions, after.FlagVersions, after.Environment);
        count += Compare(StreamEvents.SegmentDomain, before.SegmentVersions, after.SegmentVersions, after.Environment);
        return count;
    }

    private int Compare(string domain, IReadOnlyDictionary<string, long> before, IReadOnlyDictionary<string, long> after, string environment)
    {
        var count = 0;
        foreach (var (identifier, version) in after)
        {
            var change = !before.TryGetValue(identifier, out var old) ? StreamEvents.Create : old != version ? StreamEvents.Patch : null;
            if (change is not null)
            {
                hub.Publish(new StreamMessage { Event = change, Domain = domain, Identifier = identifier, Version = version, Environment = environment });
                count++;
            }
        }

        foreach (var (identifier, version) in before.Where(b => !after.ContainsKey(b.Key)))
        {
            hub.Publish(new StreamMessage { Event = StreamEvents.Delete, Domain = domain, Identifier = identifier, Version = version, Environment = environment });
            count++;
        }

        return count;
    }

    [LoggerMessage(EventId = LogEventIds.ReplicaReplication.Reconciled, Level = LogLevel.Information, Message = "Reconciled snapshots with the store: {Count} changes announced to SDK streams")]
    private static partial void LogReconciled(ILogger logger, int count);

    [LoggerMessage(EventId = LogEventIds.ReplicaReplication.StoreFailed, Level = LogLevel.Warning, Message = "Reconciling snapshots failed: {Reason}")]
    private static partial void LogStoreFailed(ILogger logger, string reason);
}

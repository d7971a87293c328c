using System.Collections.Concurrent;
using System.Net;
using FfProxy.Core.Caching;
using FfProxy.Core.Configuration;
using FfProxy.Core.Domain;
using FfProxy.Core.Sdk;
using FfProxy.Primary.ConfigStore;
using Microsoft.Extensions.Options;

namespace FfProxy.Primary.Saas;

/// <summary>
/// Keeps the store equal to what SaaS holds for the Proxy Key: the full re-sync with smart cleanup (spec §4.5)
/// and the application of account-stream events (spec §3.4). The configuration of every environment and the
/// inventory are held in memory as the authority, so an event costs what it touches: the one item read from SaaS,
/// its key, its environment's list and <c>-latest</c> hash, and an inventory entry written with others later
/// (<see cref="InventoryPersistence"/>). Item events of one environment apply in order, different environments
/// concurrently; a full sync or a proxy-level event applies alone (<see cref="ChangeGate"/>). Notifications go out
/// only after the store holds the change.
/// </summary>
internal sealed partial class AccountSync(
    HarnessSaasClient saas,
    ProxyTokenHolder tokens,
    ConfigRepository repository,
    ConfigWriter writer,
    InventoryPersistence inventory,
    SnapshotCache snapshots,
    SdkStreamHub hub,
    ProxyStatus status,
    ProxyOptions options,
    IOptions<SaasTimings> timings,
    TimeProvider time,
    ILogger<AccountSync> logger) : IStoreRepopulator, IDisposable
{
    /// <summary>Environments written at once by a full sync (each a pipelined batch of commands).</summary>
    private const int SyncParallelism = 8;

    /// <summary>Item events applied at once (each reads one item from SaaS).</summary>
    private const int ItemParallelism = 16;

    private readonly ChangeGate _gate = new();
    private readonly EnvironmentQueues _queues = new();
    private readonly SemaphoreSlim _itemSlots = new(ItemParallelism, ItemParallelism);
    private readonly ConcurrentDictionary<PendingRefresh, byte> _retries = new();
    private readonly CancellationTokenSource _stopping = new();

    // The configuration the store holds, per environment: what events edit, what a full sync compares SaaS with, and
    // what a store that lost its data is written from again without waiting for SaaS.
    private readonly ConcurrentDictionary<string, EnvironmentConfig> _held = new(StringComparer.Ordinal);
    private bool _synced;
    private bool _disposed;

    private string InventoryKey => CacheKeys.Inventory(options.ProxyKey);

    /// <summary>A full sync has succeeded since start (or since the proxy key was deleted).</summary>
    public bool HasSynced => Volatile.Read(ref _synced);

    /// <summary>
    /// Full re-sync ("poll"): authenticate, fetch every page, write every environment, remove what SaaS no longer
    /// grants, delete keys left by earlier runs or by other proxy keys, save the inventory. Each page is written as
    /// soon as it arrived (while the next one is read) and then let go, so the fetched account is never held beside
    /// the one in memory. Returns false when SaaS or the store failed; what is stored keeps serving. A page that
    /// fails leaves the environments of earlier pages written (each in full, as SaaS has it now) and removes nothing.
    /// </summary>
    public async Task<bool> SyncAllAsync(CancellationToken cancellationToken)
    {
        try
        {
            var token = await AuthenticateAsync(cancellationToken).ConfigureAwait(false);
            var granted = new HashSet<string>(StringComparer.Ordinal);
            SyncBaseline? baseline = null;
            var pages = saas.GetProxyConfigPagesAsync(token, null, _held, cancellationToken).GetAsyncEnumerator(cancellationToken);
            await using (pages.ConfigureAwait(false))
            {
                var reading = pages.MoveNextAsync().AsTask();
                while (await reading.ConfigureAwait(false))
                {
                    var page = pages.Current;
                    reading = pages.MoveNextAsync().AsTask();
                    try
                    {
                        baseline = await WritePageAsync(page, baseline, cancellationToken).ConfigureAwait(false);
                    }
                    catch
                    {
                        // The read under way must end before the pages are disposed; this failure is the one reported.
                        await Task.WhenAny(reading).ConfigureAwait(false);
                        throw;
                    }

                    granted.UnionWith(page.Environments.Select(e => e.Environment));
                }
            }

            await _queues.DrainAsync().ConfigureAwait(false);
            using (await _gate.EnterExclusiveAsync(cancellationToken).ConfigureAwait(false))
            {
                await RemoveUngrantedAsync(baseline ?? await BeginSyncAsync(cancellationToken).ConfigureAwait(false), granted, cancellationToken).ConfigureAwait(false);
            }

            _synced = true;
            status.SetConfig(ConfigStates.Synced);
            LogSynced(logger, granted.Count);
            ReleaseSyncGarbage();
            return true;
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            // Any failure (SaaS, the store, or something unexpected) keeps the stored configuration serving.
            // Health reports 500 only while no sync ever succeeded (spec §2.12); later failures keep serving.
            if (!_synced)
            {
                status.SetConfig(ConfigStates.FailedToSync);
            }

            LogSyncFailed(logger, ex.Message);
            return false;
        }
    }

    /// <summary>
    /// One page of a full sync, after the item events queued so far and alone, like the whole sync used to be: item
    /// events of other environments run between pages. The first page takes the baseline the sync ends with.
    /// </summary>
    private async Task<SyncBaseline> WritePageAsync(ProxyConfig page, SyncBaseline? baseline, CancellationToken cancellationToken)
    {
        foreach (var problem in page.Problems)
        {
            LogConfigProblem(logger, problem);
        }

        await _queues.DrainAsync().ConfigureAwait(false);
        using (await _gate.EnterExclusiveAsync(cancellationToken).ConfigureAwait(false))
        {
            baseline ??= await BeginSyncAsync(cancellationToken).ConfigureAwait(false);
            await WriteEnvironmentsAsync(page.Environments, baseline.AnnounceCreates, cancellationToken).ConfigureAwait(false);
            return baseline;
        }
    }

    /// <summary>
    /// The store lost its data: writes the configuration held in memory at once (SDK keys authenticate and Replicas
    /// reload again without a SaaS round trip), then re-syncs with SaaS in the background for what changed meanwhile.
    /// With nothing held yet, it is a plain re-sync.
    /// </summary>
    public async Task RepopulateAsync(CancellationToken cancellationToken)
    {
        bool written;
        using (await _gate.EnterExclusiveAsync(cancellationToken).ConfigureAwait(false))
        {
            written = await WriteHeldAsync(cancellationToken).ConfigureAwait(false);
        }

        if (!written)
        {
            await SyncAllAsync(cancellationToken).ConfigureAwait(false);
            return;
        }

        if (!_disposed)
        {
            var stopping = _stopping.Token;
            _ = Task.Run(() => SyncAllAsync(stopping), stopping);
        }
    }

    /// <summary>Writes every held environment and the inventory; false when nothing is held. Call under the exclusive gate.</summary>
    private async Task<bool> WriteHeldAsync(CancellationToken cancellationToken)
    {
        if (_held.IsEmpty)
        {
            return false;
        }

        // Written in full without notifications: SDKs and Replicas already hold exactly this, nothing changed for them.
        var options = new ParallelOptions { MaxDegreeOfParallelism = SyncParallelism, CancellationToken = cancellationToken };
        await Parallel.ForEachAsync(_held.Values, options, async (environment, token) =>
            await writer.RewriteAsync(environment, token).ConfigureAwait(false)).ConfigureAwait(false);
        inventory.Rewrite();
        await inventory.FlushAsync(cancellationToken).ConfigureAwait(false);
        LogRepopulated(logger, _held.Count);
        return true;
    }

    /// <summary><c>POST /proxy/auth</c>; the new token is used by every later request, including stream reconnects.</summary>
    public async Task<ProxyToken> AuthenticateAsync(CancellationToken cancellationToken)
    {
        var token = await saas.AuthenticateAsync(cancellationToken).ConfigureAwait(false);
        tokens.Set(token);
        return token;
    }

    /// <summary>
    /// Applies one account-stream event (spec §3.4 catalogue). A flag or group event is queued behind the earlier
    /// events of its environment and the returned task ends when it was applied; the caller need not wait for it
    /// before reading the next event. Proxy-level events wait for every queued event, then apply alone.
    /// </summary>
    public Task ApplyAsync(StreamMessage message, CancellationToken cancellationToken)
    {
        switch (message)
        {
            case { Domain: StreamEvents.FlagDomain or StreamEvents.SegmentDomain, Event: StreamEvents.Create or StreamEvents.Patch }:
                return _queues.Enqueue(message.Environment, () => RefreshItemAsync(new PendingRefresh(message.Domain, message.Environment, message.Identifier), cancellationToken));
            case { Domain: StreamEvents.FlagDomain or StreamEvents.SegmentDomain, Event: StreamEvents.Delete }:
                return _queues.Enqueue(message.Environment, () => EditItemsAsync(message.Environment, config => WithoutItem(config, message.Domain, message.Identifier), cancellationToken));
            case { Domain: StreamEvents.ProxyDomain, Event: StreamEvents.EnvironmentsAdded }:
                return AloneAsync(token => AddEnvironmentsAsync(message.Environments ?? [], token), cancellationToken);
            case { Domain: StreamEvents.ProxyDomain, Event: StreamEvents.EnvironmentsRemoved }:
                return AloneAsync(token => RemoveEnvironmentsAsync(message.Environments ?? [], token), cancellationToken);
            case { Domain: StreamEvents.ProxyDomain, Event: StreamEvents.ApiKeyAdded or StreamEvents.ApiKeyRemoved }:
                return AloneAsync(token => ChangeApiKeyAsync(message, token), cancellationToken);
            case { Domain: StreamEvents.ProxyDomain, Event: StreamEvents.ProxyKeyDeleted }:
                return DeleteEverythingAsync(cancellationToken);
            default:
                LogUnknownEvent(logger, message.Event, message.Domain);
                return Task.CompletedTask;
        }
    }

    /// <summary>Whether <see cref="ApplyAsync"/> queues the event behind its environment's (the caller may read on).</summary>
    public static bool IsQueued(StreamMessage message) =>
        message.Domain is StreamEvents.FlagDomain or StreamEvents.SegmentDomain
        && message.Event is StreamEvents.Create or StreamEvents.Patch or StreamEvents.Delete;

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _stopping.Cancel();
        _stopping.Dispose();
    }

    /// <summary>After every queued item event, alone: what proxy-level events and the full sync need.</summary>
    private async Task AloneAsync(Func<CancellationToken, Task> change, CancellationToken cancellationToken)
    {
        await _queues.DrainAsync().ConfigureAwait(false);
        using (await _gate.EnterExclusiveAsync(cancellationToken).ConfigureAwait(false))
        {
            await EnsureHeldAsync(cancellationToken).ConfigureAwait(false);
            await change(cancellationToken).ConfigureAwait(false);
            await inventory.FlushAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// What a full sync compares with at its end: the inventory as it was before the first page was written. On the
    /// very first sync of a store (no inventory) no create events go out: no SDK or Replica holds older data, and
    /// Replicas load everything once the stream state appears. Call under the exclusive gate.
    /// </summary>
    private async Task<SyncBaseline> BeginSyncAsync(CancellationToken cancellationToken)
    {
        var announceCreates = true;
        if (!inventory.Loaded)
        {
            announceCreates = await inventory.LoadAsync(cancellationToken).ConfigureAwait(false);
        }

        var current = inventory.Current;
        var baseline = new SyncBaseline(announceCreates, current.Keys.Select(k => k.Key).ToHashSet(StringComparer.Ordinal), current.Environments);

        // SDK-key entries of a stored inventory belong to no environment there; the sync lists them under theirs.
        current.Remove("");
        return baseline;
    }

    /// <summary>
    /// Compares SaaS with what is held (or, for environments not held yet, with what the store holds, read in one
    /// round trip) and writes the differences of one page with bounded parallelism, each environment one pipelined batch.
    /// </summary>
    private async Task WriteEnvironmentsAsync(IReadOnlyList<EnvironmentConfig> environments, bool announceCreates, CancellationToken cancellationToken)
    {
        var stored = await ReadUnheldAsync(environments.Select(e => e.Environment), cancellationToken).ConfigureAwait(false);
        var options = new ParallelOptions { MaxDegreeOfParallelism = SyncParallelism, CancellationToken = cancellationToken };
        await Parallel.ForEachAsync(environments, options, async (next, token) =>
        {
            var wasHeld = _held.TryGetValue(next.Environment, out var held);
            var old = wasHeld ? held! : stored.GetValueOrDefault(next.Environment) ?? EnvironmentConfig.Empty(next.Environment);
            var write = await writer.ApplyAsync(old, next, ItemVersioning.AsReceived, announceCreates, token).ConfigureAwait(false);

            // An environment held and unchanged keeps its held configuration and inventory entry: replacing them with
            // equal copies on every re-sync would turn the whole account into old-generation garbage each time.
            if (write.StoreChanged || !wasHeld)
            {
                Hold(write.Stored);
            }
        }).ConfigureAwait(false);
    }

    /// <summary>
    /// The end of a full sync, once every page was written: removes the environments SaaS no longer grants and the keys
    /// no environment holds any more, other proxy keys' data too, and saves the inventory. Call under the exclusive gate.
    /// </summary>
    private async Task RemoveUngrantedAsync(SyncBaseline baseline, HashSet<string> granted, CancellationToken cancellationToken)
    {
        var current = inventory.Current;
        foreach (var gone in baseline.PreviousEnvironments.Where(env => env.Length > 0 && !granted.Contains(env)))
        {
            await RemoveEnvironmentAsync(gone, cancellationToken).ConfigureAwait(false);
        }

        // Keys of the old inventory the new one lacks (written by an earlier run, possibly by the Go proxy).
        var kept = current.Keys.Select(k => k.Key).ToHashSet(StringComparer.Ordinal);
        var stale = baseline.PreviousKeys.Where(key => !kept.Contains(key)).ToList();

        // One Redis belongs to one Proxy Key (spec §4.5 step 4): other keys' inventories and assets go.
        var foreign = new List<string>();
        await foreach (var key in repository.Store.ScanAsync(CacheKeys.InventoryPrefix, cancellationToken).ConfigureAwait(false))
        {
            if (CacheKeys.IsInventory(key) && key != InventoryKey)
            {
                foreign.Add(key);
            }
        }

        foreach (var inventoryKey in foreign)
        {
            var other = Inventory.Parse(await repository.Store.GetAsync(inventoryKey, cancellationToken).ConfigureAwait(false));
            stale.AddRange(other.Keys.Select(k => k.Key).Where(key => !kept.Contains(key)));
            stale.Add(inventoryKey);
            LogForeignInventory(logger);
        }

        if (stale.Count > 0)
        {
            await repository.Store.DeleteAsync(stale.Distinct(StringComparer.Ordinal).ToList(), cancellationToken).ConfigureAwait(false);
            foreach (var env in stale.Select(CacheKeys.EnvironmentOf).OfType<string>().Distinct(StringComparer.Ordinal))
            {
                if (snapshots.Environments.Contains(env))
                {
                    await snapshots.RefreshAsync(env, cancellationToken).ConfigureAwait(false);
                }
            }
        }

        inventory.Changed();
        await inventory.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The stored configuration of the environments not held in memory (at start), read in one round trip.</summary>
    private async Task<Dictionary<string, EnvironmentConfig>> ReadUnheldAsync(IEnumerable<string> environments, CancellationToken cancellationToken)
    {
        var unheld = environments.Where(env => !_held.ContainsKey(env)).ToList();
        var result = new Dictionary<string, EnvironmentConfig>(StringComparer.Ordinal);
        if (unheld.Count == 0)
        {
            return result;
        }

        foreach (var stored in await repository.LoadEnvironmentsAsync(unheld, cancellationToken).ConfigureAwait(false))
        {
            result[stored.Environment] = StoredConfig.Read(stored);
        }

        return result;
    }

    /// <summary>
    /// Before any sync succeeded (SaaS unreachable at start), events and proxy-level changes edit what the store holds
    /// for the environments of the stored inventory.
    /// </summary>
    private Task EnsureHeldAsync(CancellationToken cancellationToken) => inventory.EnsureLoadedAsync(cancellationToken);

    /// <summary>The held configuration of an environment the proxy key holds, read from the store when not held yet; null otherwise.</summary>
    private async Task<EnvironmentConfig?> HeldAsync(string environment, CancellationToken cancellationToken)
    {
        if (_held.TryGetValue(environment, out var held))
        {
            return held;
        }

        await EnsureHeldAsync(cancellationToken).ConfigureAwait(false);
        if (!inventory.Current.Contains(environment))
        {
            return null;
        }

        held = await StoredConfig.ReadAsync(repository, environment, cancellationToken).ConfigureAwait(false);
        _held.TryAdd(environment, held);
        return _held[environment];
    }

    private void Hold(EnvironmentConfig stored)
    {
        _held[stored.Environment] = stored;
        inventory.Current.Set(stored);
        inventory.Changed();
    }

    private async Task RemoveEnvironmentAsync(string environment, CancellationToken cancellationToken)
    {
        // Deletes keys and snapshot, then ends the environment's SDK streams here and on Replicas.
        var current = _held.TryGetValue(environment, out var held)
            ? held
            : await StoredConfig.ReadAsync(repository, environment, cancellationToken).ConfigureAwait(false);
        await writer.RemoveAsync(current, cancellationToken).ConfigureAwait(false);
        var leftovers = inventory.Current.KeysOf(environment).ToList();
        if (leftovers.Count > 0)
        {
            await repository.Store.DeleteAsync(leftovers, cancellationToken).ConfigureAwait(false);
        }

        inventory.Current.Remove(environment);
        inventory.Changed();
        _held.TryRemove(environment, out _);
    }

    private async Task RefreshItemAsync(PendingRefresh item, CancellationToken cancellationToken)
    {
        try
        {
            await RefreshOnceAsync(item, cancellationToken).ConfigureAwait(false);
        }
        catch (SaasRequestException ex)
        {
            // SaaS read replicas may lag the event (404/400), or SaaS is briefly down: retry later.
            LogRefreshFailed(logger, item.Domain, item.Identifier, item.Environment, ex.Message);
            ScheduleRetry(item);
        }
    }

    private async Task RefreshOnceAsync(PendingRefresh item, CancellationToken cancellationToken)
    {
        await _itemSlots.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var token = tokens.Current ?? await AuthenticateAsync(cancellationToken).ConfigureAwait(false);
            var fetched = await FetchItemAsync(token, item, cancellationToken).ConfigureAwait(false);
            await EditItemsAsync(item.Environment, config => WithItem(config, item.Domain, fetched), cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _itemSlots.Release();
        }
    }

    private async Task<ConfigItem> FetchItemAsync(ProxyToken token, PendingRefresh item, CancellationToken cancellationToken)
    {
        try
        {
            return await Fetch(token).ConfigureAwait(false);
        }
        catch (SaasRequestException ex) when (ex.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden)
        {
            return await Fetch(await AuthenticateAsync(cancellationToken).ConfigureAwait(false)).ConfigureAwait(false);
        }

        Task<ConfigItem> Fetch(ProxyToken current) => item.Domain == StreamEvents.FlagDomain
            ? saas.GetFeatureConfigAsync(current, item.Environment, item.Identifier, cancellationToken)
            : saas.GetSegmentAsync(current, item.Environment, item.Identifier, cancellationToken);
    }

    /// <summary>
    /// Retry queue for per-item refreshes: first after <see cref="SaasTimings.RetryFirstDelay"/>, doubling up to
    /// <see cref="SaasTimings.RetryMaxDelay"/>, at most <see cref="SaasTimings.RetryMaxAttempts"/> attempts. An item
    /// already queued is not queued twice; its retry fetches the latest version anyway.
    /// </summary>
    private void ScheduleRetry(PendingRefresh item)
    {
        if (_stopping.IsCancellationRequested || !_retries.TryAdd(item, 0))
        {
            return;
        }

        _ = RetryAsync(item, _stopping.Token);
    }

    private async Task RetryAsync(PendingRefresh item, CancellationToken cancellationToken)
    {
        var settings = timings.Value;
        var delay = settings.RetryFirstDelay;
        try
        {
            for (var attempt = 1; attempt <= settings.RetryMaxAttempts; attempt++)
            {
                await Task.Delay(delay, time, cancellationToken).ConfigureAwait(false);
                try
                {
                    // Behind the environment's events queued meanwhile, so an older fetch never follows a newer one.
                    await _queues.Enqueue(item.Environment, () => RefreshOnceAsync(item, cancellationToken)).ConfigureAwait(false);
                    LogRetrySucceeded(logger, item.Domain, item.Identifier, item.Environment, attempt);
                    return;
                }
                catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
                {
                    LogRetryFailed(logger, item.Domain, item.Identifier, item.Environment, attempt, ex.Message);
                }

                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, settings.RetryMaxDelay.Ticks));
            }

            LogRetryGaveUp(logger, item.Domain, item.Identifier, item.Environment, settings.RetryMaxAttempts);
        }
        catch (OperationCanceledException)
        {
            // Shutting down.
        }
        catch (Exception ex)
        {
            LogRetryCrashed(logger, ex);
        }
        finally
        {
            _retries.TryRemove(item, out _);
        }
    }

    /// <summary>
    /// Edits the held configuration of one environment and writes the difference (shared with other environments'
    /// edits; the caller's queue keeps this environment's edits in order); skips environments this key does not hold.
    /// </summary>
    private async Task EditItemsAsync(string environment, Func<EnvironmentConfig, EnvironmentConfig> edit, CancellationToken cancellationToken)
    {
        using (await _gate.EnterSharedAsync(cancellationToken).ConfigureAwait(false))
        {
            await EditAsync(environment, edit, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Edits one environment; the caller holds the gate.</summary>
    private async Task EditAsync(string environment, Func<EnvironmentConfig, EnvironmentConfig> edit, CancellationToken cancellationToken)
    {
        if (await HeldAsync(environment, cancellationToken).ConfigureAwait(false) is not { } current)
        {
            LogUnknownEnvironment(logger, environment);
            return;
        }

        var write = await writer.ApplyAsync(current, edit(current), ItemVersioning.AsReceived, announceCreates: true, cancellationToken).ConfigureAwait(false);
        if (write.StoreChanged)
        {
            Hold(write.Stored);
        }
    }

    private async Task AddEnvironmentsAsync(IReadOnlyList<string> environments, CancellationToken cancellationToken)
    {
        // The current token does not cover new environments (its claim lists them).
        var token = await AuthenticateAsync(cancellationToken).ConfigureAwait(false);
        var options = new ParallelOptions { MaxDegreeOfParallelism = SyncParallelism, CancellationToken = cancellationToken };
        await Parallel.ForEachAsync(environments, options, async (environment, ct) =>
        {
            var config = await saas.GetProxyConfigAsync(token, environment, ct).ConfigureAwait(false);
            foreach (var added in config.Environments.Where(e => e.Environment == environment))
            {
                var current = await HeldAsync(environment, ct).ConfigureAwait(false) ?? EnvironmentConfig.Empty(environment);
                var write = await writer.ApplyAsync(current, added, ItemVersioning.AsReceived, announceCreates: true, ct).ConfigureAwait(false);
                Hold(write.Stored);
                LogEnvironmentAdded(logger, environment);
            }
        }).ConfigureAwait(false);
    }

    private async Task RemoveEnvironmentsAsync(IReadOnlyList<string> environments, CancellationToken cancellationToken)
    {
        foreach (var environment in environments)
        {
            await RemoveEnvironmentAsync(environment, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task ChangeApiKeyAsync(StreamMessage message, CancellationToken cancellationToken)
    {
        var hash = message.ApiKey.ToLowerInvariant();
        if (hash.Length == 0)
        {
            LogUnknownEvent(logger, message.Event, "without apiKey");
            return;
        }

        var added = message.Event == StreamEvents.ApiKeyAdded;
        var environments = message.Environments is { Count: > 0 } list ? list : [message.Environment];
        foreach (var environment in environments.Where(e => e.Length > 0))
        {
            await EditAsync(environment, config => config with
            {
                ApiKeyHashes = added
                    ? [.. config.ApiKeyHashes.Append(hash).Distinct(StringComparer.Ordinal)]
                    : [.. config.ApiKeyHashes.Where(k => !string.Equals(k, hash, StringComparison.OrdinalIgnoreCase))],
            }, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary><c>proxyKeyDeleted</c>: every asset of the key goes, SDK streams end, the proxy reports unhealthy.</summary>
    private async Task DeleteEverythingAsync(CancellationToken cancellationToken)
    {
        await _queues.DrainAsync().ConfigureAwait(false);
        using (await _gate.EnterExclusiveAsync(cancellationToken).ConfigureAwait(false))
        {
            await EnsureHeldAsync(cancellationToken).ConfigureAwait(false);
            var current = inventory.Current;
            foreach (var environment in current.Environments.Where(e => e.Length > 0))
            {
                var held = _held.TryGetValue(environment, out var config)
                    ? config
                    : await StoredConfig.ReadAsync(repository, environment, cancellationToken).ConfigureAwait(false);
                await writer.RemoveAsync(held, cancellationToken).ConfigureAwait(false);
            }

            // The inventory goes with everything it lists.
            await repository.Store.DeleteAsync([.. current.Keys.Select(k => k.Key), InventoryKey], cancellationToken).ConfigureAwait(false);
            inventory.Reset();
            _held.Clear();
        }

        tokens.Set(null);
        _synced = false;
        status.SetConfig(ConfigStates.FailedToSync);
        hub.CloseAll();
        LogProxyKeyDeleted(logger);
    }

    private static EnvironmentConfig WithItem(EnvironmentConfig config, string domain, ConfigItem item) => domain == StreamEvents.FlagDomain
        ? config with { Flags = Upsert(config.Flags, item) }
        : config with { Segments = Upsert(config.Segments, item) };

    private static EnvironmentConfig WithoutItem(EnvironmentConfig config, string domain, string identifier) => domain == StreamEvents.FlagDomain
        ? config with { Flags = [.. config.Flags.Where(f => f.Identifier != identifier)] }
        : config with { Segments = [.. config.Segments.Where(s => s.Identifier != identifier)] };

    private static List<ConfigItem> Upsert(IReadOnlyList<ConfigItem> items, ConfigItem item)
    {
        var result = new List<ConfigItem>(items.Count + 1);
        var replaced = false;
        foreach (var existing in items)
        {
            if (existing.Identifier == item.Identifier)
            {
                // An older fetch (SaaS replica lag) never overwrites a newer stored item.
                result.Add(item.Version >= existing.Version ? item : existing);
                replaced = true;
            }
            else
            {
                result.Add(existing);
            }
        }

        if (!replaced)
        {
            result.Add(item);
        }

        return result;
    }

    private readonly record struct PendingRefresh(string Domain, string Environment, string Identifier);

    /// <summary>The inventory a full sync started from: its keys and environments, and whether it existed at all.</summary>
    /// <summary>
    /// A full sync reads and writes the whole account within seconds. What it leaves behind (pages, write buffers) is
    /// garbage the GC would otherwise keep committed as headroom for as long as the process runs, and the Primary's
    /// resident memory would follow the size of the account's transfer rather than of what it holds. One compacting
    /// collection that returns freed memory to the OS ends each full sync; they are rare (start-up, reconnection,
    /// Redis data loss), so its pause is too.
    /// </summary>
    private static void ReleaseSyncGarbage() =>
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);

    private sealed record SyncBaseline(bool AnnounceCreates, HashSet<string> PreviousKeys, IReadOnlyCollection<string> PreviousEnvironments);

    [LoggerMessage(EventId = LogEventIds.PrimarySaas.Synced, Level = LogLevel.Information, Message = "Synced {Count} environments from SaaS")]
    private static partial void LogSynced(ILogger logger, int count);

    [LoggerMessage(EventId = LogEventIds.PrimarySaas.SyncFailed, Level = LogLevel.Warning, Message = "Sync with SaaS failed, serving what is stored: {Reason}")]
    private static partial void LogSyncFailed(ILogger logger, string reason);

    [LoggerMessage(EventId = LogEventIds.PrimarySaas.ConfigProblem, Level = LogLevel.Warning, Message = "SaaS configuration problem: {Problem}")]
    private static partial void LogConfigProblem(ILogger logger, string problem);

    [LoggerMessage(EventId = LogEventIds.PrimarySaas.ForeignInventory, Level = LogLevel.Warning, Message = "Deleting the inventory and assets of another proxy key found in the store (one store serves one proxy key)")]
    private static partial void LogForeignInventory(ILogger logger);

    [LoggerMessage(EventId = LogEventIds.PrimarySaas.RefreshFailed, Level = LogLevel.Warning, Message = "Refreshing {Domain} {Identifier} of environment {Environment} failed, queued for retry: {Reason}")]
    private static partial void LogRefreshFailed(ILogger logger, string domain, string identifier, string environment, string reason);

    [LoggerMessage(EventId = LogEventIds.PrimarySaas.RetrySucceeded, Level = LogLevel.Information, Message = "Retry {Attempt} refreshed {Domain} {Identifier} of environment {Environment}")]
    private static partial void LogRetrySucceeded(ILogger logger, string domain, string identifier, string environment, int attempt);

    [LoggerMessage(EventId = LogEventIds.PrimarySaas.RetryFailed, Level = LogLevel.Warning, Message = "Retry {Attempt} of {Domain} {Identifier} of environment {Environment} failed: {Reason}")]
    private static partial void LogRetryFailed(ILogger logger, string domain, string identifier, string environment, int attempt, string reason);

    [LoggerMessage(EventId = LogEventIds.PrimarySaas.RetryGaveUp, Level = LogLevel.Error, Message = "Gave up refreshing {Domain} {Identifier} of environment {Environment} after {Attempts} attempts; the next re-sync repairs it")]
    private static partial void LogRetryGaveUp(ILogger logger, string domain, string identifier, string environment, int attempts);

    [LoggerMessage(EventId = LogEventIds.PrimarySaas.RetryCrashed, Level = LogLevel.Error, Message = "Refresh retry failed unexpectedly")]
    private static partial void LogRetryCrashed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = LogEventIds.PrimarySaas.UnknownEvent, Level = LogLevel.Warning, Message = "Ignoring account-stream event {Event} ({Domain})")]
    private static partial void LogUnknownEvent(ILogger logger, string @event, string domain);

    [LoggerMessage(EventId = LogEventIds.PrimarySaas.UnknownEnvironment, Level = LogLevel.Warning, Message = "Ignoring a change to environment {Environment}, which the proxy key does not hold")]
    private static partial void LogUnknownEnvironment(ILogger logger, string environment);

    [LoggerMessage(EventId = LogEventIds.PrimarySaas.Repopulated, Level = LogLevel.Warning, Message = "Wrote the {Count} environments held in memory to the store again; re-syncing with SaaS")]
    private static partial void LogRepopulated(ILogger logger, int count);

    [LoggerMessage(EventId = LogEventIds.PrimarySaas.EnvironmentAdded, Level = LogLevel.Information, Message = "Environment {Environment} added")]
    private static partial void LogEnvironmentAdded(ILogger logger, string environment);

    [LoggerMessage(EventId = LogEventIds.PrimarySaas.ProxyKeyDeleted, Level = LogLevel.Error, Message = "The proxy key was deleted at SaaS: all its data was removed and SDK streams were closed")]
    private static partial void LogProxyKeyDeleted(ILogger logger);
}

using System.Collections.Concurrent;
using System.Net;
using FfProxy.Core.Caching;
using FfProxy.Core.Configuration;
using FfProxy.Core.Domain;
using FfProxy.Core.Sdk;
using Microsoft.Extensions.Options;

namespace FfProxy.Primary.Saas;

/// <summary>
/// Keeps the store equal to what SaaS holds for the Proxy Key: the full re-sync with smart cleanup (spec §4.5)
/// and the application of account-stream events (spec §3.4). Every store mutation goes through one gate, so a
/// re-sync and an event never interleave; notifications go out only after the store holds the change.
/// </summary>
public sealed partial class AccountSync(
    HarnessSaasClient saas,
    ProxyTokenHolder tokens,
    ConfigRepository repository,
    ConfigUpdater updater,
    SnapshotCache snapshots,
    StreamHub hub,
    ProxyStatus status,
    ProxyOptions options,
    IOptions<SaasTimings> timings,
    TimeProvider time,
    ILogger<AccountSync> logger) : IStoreRepopulator, IDisposable
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly ConcurrentDictionary<PendingRefresh, byte> _retries = new();
    private readonly CancellationTokenSource _stopping = new();

    // The last configuration written to the store, per environment (guarded by _gate): what a store that lost its
    // data is written from again, without waiting for SaaS.
    private readonly Dictionary<string, EnvironmentConfig> _held = new(StringComparer.Ordinal);
    private bool _synced;
    private bool _disposed;

    private string InventoryKey => CacheKeys.Inventory(options.ProxyKey);

    /// <summary>Refreshes waiting in the retry queue (for tests and diagnostics).</summary>
    public int PendingRetries => _retries.Count;

    /// <summary>
    /// Full re-sync ("poll"): authenticate, fetch every page, write every environment, remove what SaaS no longer
    /// grants, delete keys left by earlier runs or by other proxy keys, save the inventory. Returns false when
    /// SaaS or the store failed; what is stored keeps serving.
    /// </summary>
    public async Task<bool> SyncAllAsync(CancellationToken cancellationToken)
    {
        try
        {
            var token = await AuthenticateAsync(cancellationToken).ConfigureAwait(false);
            var config = await saas.GetProxyConfigAsync(token, null, cancellationToken).ConfigureAwait(false);
            foreach (var problem in config.Problems)
            {
                LogConfigProblem(logger, problem);
            }

            await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                await ReplaceAllAsync(config.Environments, cancellationToken).ConfigureAwait(false);
                _held.Clear();
                foreach (var environment in config.Environments)
                {
                    _held[environment.Environment] = environment;
                }
            }
            finally
            {
                _gate.Release();
            }

            _synced = true;
            status.SetConfig(ConfigStates.Synced);
            LogSynced(logger, config.Environments.Count);
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
    /// The store lost its data: writes the configuration held in memory at once (SDK keys authenticate and Replicas
    /// reload again without a SaaS round trip), then re-syncs with SaaS in the background for what changed meanwhile.
    /// With nothing held yet, it is a plain re-sync.
    /// </summary>
    public async Task RepopulateAsync(CancellationToken cancellationToken)
    {
        bool written;
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            written = await WriteHeldAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
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

    /// <summary>Writes every held environment and the inventory; false when nothing is held. Call under the gate.</summary>
    private async Task<bool> WriteHeldAsync(CancellationToken cancellationToken)
    {
        if (_held.Count == 0)
        {
            return false;
        }

        // The repository, not the updater: SDKs and Replicas already hold exactly this, nothing changed for them.
        var inventory = new Inventory();
        foreach (var environment in _held.Values)
        {
            await repository.ReplaceEnvironmentAsync(environment, ItemVersioning.AsReceived, cancellationToken).ConfigureAwait(false);
            inventory.Set(environment);
        }

        await repository.Store.SetAsync([new(InventoryKey, inventory.ToJson())], cancellationToken).ConfigureAwait(false);
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

    /// <summary>Applies one account-stream event (spec §3.4 catalogue).</summary>
    public async Task ApplyAsync(StreamMessage message, CancellationToken cancellationToken)
    {
        switch (message)
        {
            case { Domain: StreamEvents.FlagDomain or StreamEvents.SegmentDomain, Event: StreamEvents.Create or StreamEvents.Patch }:
                await RefreshItemAsync(new PendingRefresh(message.Domain, message.Environment, message.Identifier), cancellationToken).ConfigureAwait(false);
                break;
            case { Domain: StreamEvents.FlagDomain or StreamEvents.SegmentDomain, Event: StreamEvents.Delete }:
                await EditEnvironmentAsync(message.Environment, config => WithoutItem(config, message.Domain, message.Identifier), cancellationToken).ConfigureAwait(false);
                break;
            case { Domain: StreamEvents.ProxyDomain, Event: StreamEvents.EnvironmentsAdded }:
                await AddEnvironmentsAsync(message.Environments ?? [], cancellationToken).ConfigureAwait(false);
                break;
            case { Domain: StreamEvents.ProxyDomain, Event: StreamEvents.EnvironmentsRemoved }:
                await RemoveEnvironmentsAsync(message.Environments ?? [], cancellationToken).ConfigureAwait(false);
                break;
            case { Domain: StreamEvents.ProxyDomain, Event: StreamEvents.ApiKeyAdded or StreamEvents.ApiKeyRemoved }:
                await ChangeApiKeyAsync(message, cancellationToken).ConfigureAwait(false);
                break;
            case { Domain: StreamEvents.ProxyDomain, Event: StreamEvents.ProxyKeyDeleted }:
                await DeleteEverythingAsync(cancellationToken).ConfigureAwait(false);
                break;
            default:
                LogUnknownEvent(logger, message.Event, message.Domain);
                break;
        }
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _stopping.Cancel();
        _stopping.Dispose();
        _gate.Dispose();
    }

    private async Task ReplaceAllAsync(IReadOnlyList<EnvironmentConfig> environments, CancellationToken cancellationToken)
    {
        var previous = Inventory.Parse(await repository.Store.GetAsync(InventoryKey, cancellationToken).ConfigureAwait(false));
        var next = new Inventory();

        // Data before deletions and notifications after data (ConfigUpdater): an SDK refetching on an event sees it.
        foreach (var environment in environments)
        {
            await updater.ApplyAsync(environment, ItemVersioning.AsReceived, cancellationToken).ConfigureAwait(false);
            next.Set(environment);
        }

        var granted = next.Environments.ToHashSet(StringComparer.Ordinal);
        foreach (var gone in previous.Environments.Where(env => env.Length > 0 && !granted.Contains(env)))
        {
            await updater.RemoveAsync(gone, cancellationToken).ConfigureAwait(false);
        }

        // Keys of the old inventory the new one lacks (written by an earlier run, possibly by the Go proxy).
        var kept = next.Keys.Select(k => k.Key).ToHashSet(StringComparer.Ordinal);
        var stale = previous.Keys.Select(k => k.Key).Where(key => !kept.Contains(key)).ToList();

        // One Redis belongs to one Proxy Key (spec §4.5 step 4): other keys' inventories and assets go.
        var foreign = new List<string>();
        await foreach (var key in repository.Store.ScanAsync("key-", cancellationToken).ConfigureAwait(false))
        {
            if (key.EndsWith("-inventory", StringComparison.Ordinal) && key != InventoryKey)
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
            foreach (var env in stale.Select(Inventory.EnvironmentOf).OfType<string>().Distinct(StringComparer.Ordinal))
            {
                await snapshots.RefreshAsync(env, cancellationToken).ConfigureAwait(false);
            }
        }

        await repository.Store.SetAsync([new(InventoryKey, next.ToJson())], cancellationToken).ConfigureAwait(false);
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
        var token = tokens.Current ?? await AuthenticateAsync(cancellationToken).ConfigureAwait(false);
        var fetched = await FetchItemAsync(token, item, cancellationToken).ConfigureAwait(false);
        await EditEnvironmentAsync(item.Environment, config => WithItem(config, item.Domain, fetched), cancellationToken).ConfigureAwait(false);
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
                    await RefreshOnceAsync(item, cancellationToken).ConfigureAwait(false);
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

    /// <summary>Reads the stored environment, edits it and writes it back; skips environments this key does not hold.</summary>
    private Task EditEnvironmentAsync(string environment, Func<EnvironmentConfig, EnvironmentConfig> edit, CancellationToken cancellationToken) =>
        ChangeInventoryAsync(async inventory =>
        {
            if (!inventory.Environments.Contains(environment))
            {
                LogUnknownEnvironment(logger, environment);
                return false;
            }

            var edited = edit(await repository.ReadEnvironmentConfigAsync(environment, cancellationToken).ConfigureAwait(false));
            await updater.ApplyAsync(edited, ItemVersioning.AsReceived, cancellationToken).ConfigureAwait(false);
            inventory.Set(edited);
            _held[environment] = edited;
            return true;
        }, cancellationToken);

    private async Task AddEnvironmentsAsync(IReadOnlyList<string> environments, CancellationToken cancellationToken)
    {
        // The current token does not cover new environments (its claim lists them).
        var token = await AuthenticateAsync(cancellationToken).ConfigureAwait(false);
        foreach (var environment in environments)
        {
            var config = await saas.GetProxyConfigAsync(token, environment, cancellationToken).ConfigureAwait(false);
            await ChangeInventoryAsync(async inventory =>
            {
                foreach (var added in config.Environments.Where(e => e.Environment == environment))
                {
                    await updater.ApplyAsync(added, ItemVersioning.AsReceived, cancellationToken).ConfigureAwait(false);
                    inventory.Set(added);
                    _held[environment] = added;
                    LogEnvironmentAdded(logger, environment);
                }

                return true;
            }, cancellationToken).ConfigureAwait(false);
        }
    }

    private Task RemoveEnvironmentsAsync(IReadOnlyList<string> environments, CancellationToken cancellationToken) =>
        ChangeInventoryAsync(async inventory =>
        {
            foreach (var environment in environments)
            {
                // Deletes keys and snapshot, then ends the environment's SDK streams here and on Replicas.
                await updater.RemoveAsync(environment, cancellationToken).ConfigureAwait(false);
                var leftovers = inventory.KeysOf(environment).ToList();
                if (leftovers.Count > 0)
                {
                    await repository.Store.DeleteAsync(leftovers, cancellationToken).ConfigureAwait(false);
                }

                inventory.Remove(environment);
                _held.Remove(environment);
            }

            return true;
        }, cancellationToken);

    /// <summary>
    /// Reads the inventory, lets <paramref name="change"/> edit the store and the inventory, and saves the inventory
    /// when it answers true; serialised with every other change and the full sync.
    /// </summary>
    private async Task ChangeInventoryAsync(Func<Inventory, Task<bool>> change, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var stored = await repository.Store.GetAsync(InventoryKey, cancellationToken).ConfigureAwait(false);
            if (stored is null && await WriteHeldAsync(cancellationToken).ConfigureAwait(false))
            {
                // The store lost its data and nobody noticed yet: the change applies to what this process holds.
                stored = await repository.Store.GetAsync(InventoryKey, cancellationToken).ConfigureAwait(false);
            }

            var inventory = Inventory.Parse(stored);
            if (await change(inventory).ConfigureAwait(false))
            {
                await repository.Store.SetAsync([new(InventoryKey, inventory.ToJson())], cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    private Task ChangeApiKeyAsync(StreamMessage message, CancellationToken cancellationToken)
    {
        var hash = message.ApiKey.ToLowerInvariant();
        if (hash.Length == 0)
        {
            LogUnknownEvent(logger, message.Event, "without apiKey");
            return Task.CompletedTask;
        }

        var added = message.Event == StreamEvents.ApiKeyAdded;
        var environments = message.Environments is { Count: > 0 } list ? list : [message.Environment];
        return Task.WhenAll(environments.Where(e => e.Length > 0).Select(environment => EditEnvironmentAsync(environment, config => config with
        {
            ApiKeyHashes = added
                ? [.. config.ApiKeyHashes.Append(hash).Distinct(StringComparer.Ordinal)]
                : [.. config.ApiKeyHashes.Where(k => !string.Equals(k, hash, StringComparison.OrdinalIgnoreCase))],
        }, cancellationToken)));
    }

    /// <summary><c>proxyKeyDeleted</c>: every asset of the key goes, SDK streams end, the proxy reports unhealthy.</summary>
    private async Task DeleteEverythingAsync(CancellationToken cancellationToken)
    {
        await ChangeInventoryAsync(async inventory =>
        {
            foreach (var environment in inventory.Environments.Where(e => e.Length > 0).ToList())
            {
                await updater.RemoveAsync(environment, cancellationToken).ConfigureAwait(false);
            }

            // The inventory goes with everything it lists.
            await repository.Store.DeleteAsync([.. inventory.Keys.Select(k => k.Key), InventoryKey], cancellationToken).ConfigureAwait(false);
            return false;
        }, cancellationToken).ConfigureAwait(false);

        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        _held.Clear();
        _gate.Release();
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

    [LoggerMessage(EventId = 3001, Level = LogLevel.Information, Message = "Synced {Count} environments from SaaS")]
    private static partial void LogSynced(ILogger logger, int count);

    [LoggerMessage(EventId = 3002, Level = LogLevel.Warning, Message = "Sync with SaaS failed, serving what is stored: {Reason}")]
    private static partial void LogSyncFailed(ILogger logger, string reason);

    [LoggerMessage(EventId = 3003, Level = LogLevel.Warning, Message = "SaaS configuration problem: {Problem}")]
    private static partial void LogConfigProblem(ILogger logger, string problem);

    [LoggerMessage(EventId = 3004, Level = LogLevel.Warning, Message = "Deleting the inventory and assets of another proxy key found in the store (one store serves one proxy key)")]
    private static partial void LogForeignInventory(ILogger logger);

    [LoggerMessage(EventId = 3005, Level = LogLevel.Warning, Message = "Refreshing {Domain} {Identifier} of environment {Environment} failed, queued for retry: {Reason}")]
    private static partial void LogRefreshFailed(ILogger logger, string domain, string identifier, string environment, string reason);

    [LoggerMessage(EventId = 3006, Level = LogLevel.Information, Message = "Retry {Attempt} refreshed {Domain} {Identifier} of environment {Environment}")]
    private static partial void LogRetrySucceeded(ILogger logger, string domain, string identifier, string environment, int attempt);

    [LoggerMessage(EventId = 3007, Level = LogLevel.Warning, Message = "Retry {Attempt} of {Domain} {Identifier} of environment {Environment} failed: {Reason}")]
    private static partial void LogRetryFailed(ILogger logger, string domain, string identifier, string environment, int attempt, string reason);

    [LoggerMessage(EventId = 3008, Level = LogLevel.Error, Message = "Gave up refreshing {Domain} {Identifier} of environment {Environment} after {Attempts} attempts; the next re-sync repairs it")]
    private static partial void LogRetryGaveUp(ILogger logger, string domain, string identifier, string environment, int attempts);

    [LoggerMessage(EventId = 3009, Level = LogLevel.Error, Message = "Refresh retry failed unexpectedly")]
    private static partial void LogRetryCrashed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 3010, Level = LogLevel.Warning, Message = "Ignoring account-stream event {Event} ({Domain})")]
    private static partial void LogUnknownEvent(ILogger logger, string @event, string domain);

    [LoggerMessage(EventId = 3011, Level = LogLevel.Warning, Message = "Ignoring a change to environment {Environment}, which the proxy key does not hold")]
    private static partial void LogUnknownEnvironment(ILogger logger, string environment);

    [LoggerMessage(EventId = 3014, Level = LogLevel.Warning, Message = "Wrote the {Count} environments held in memory to the store again; re-syncing with SaaS")]
    private static partial void LogRepopulated(ILogger logger, int count);

    [LoggerMessage(EventId = 3012, Level = LogLevel.Information, Message = "Environment {Environment} added")]
    private static partial void LogEnvironmentAdded(ILogger logger, string environment);

    [LoggerMessage(EventId = 3013, Level = LogLevel.Error, Message = "The proxy key was deleted at SaaS: all its data was removed and SDK streams were closed")]
    private static partial void LogProxyKeyDeleted(ILogger logger);
}

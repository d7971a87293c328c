using System.Buffers;
using FfProxy.Core.Caching;
using FfProxy.Core.Configuration;
using FfProxy.Core.Hosting;

namespace FfProxy.Primary.Saas;

/// <summary>
/// The in-memory inventory is the authority while the Primary runs; this keeps <c>key-{proxyKey}-inventory</c> in
/// step without rewriting the whole JSON per event: changes mark it dirty, and a loop writes it at most once per
/// <see cref="FlushInterval"/>. Callers flush at once before publishing an event that depends on it (a full sync's
/// end, environments added or removed) and the host flushes at shutdown. The stored copy is read only at start
/// (<see cref="LoadAsync"/>); a crash between an item write and the next flush loses nothing, since the next
/// re-sync compares SaaS with the stored lists and deletes what the stored inventory still names.
/// </summary>
internal sealed partial class InventoryPersistence(
    IKeyValueStore store,
    ProxyOptions options,
    TimeProvider time,
    ILogger<InventoryPersistence> logger) : SupervisedLoop
{
    /// <summary>At most this many coalesced writes per second under an event storm: 4.</summary>
    public static readonly TimeSpan FlushInterval = TimeSpan.FromMilliseconds(250);

    private readonly SemaphoreSlim _writing = new(1, 1);

    // Kept between writes (under _writing): under an event storm the inventory of a large account (megabytes) is
    // written four times a second, and a new buffer and sort array each time would churn the large object heap.
    private ArrayBufferWriter<byte>? _json;
    private KeyValuePair<string, long>[]? _sortSpace;
    private long _changes;
    private long _written;
    private volatile bool _loaded;

    protected override TimeProvider Time => time;

    protected override ILogger Logger => logger;

    private const int InitialJsonCapacity = 64 * 1024;

    private string Key => CacheKeys.Inventory(options.ProxyKey);

    /// <summary>The authority. Replaced whole only by <see cref="LoadAsync"/> and <see cref="Reset"/>.</summary>
    public Inventory Current { get; private set; } = new();

    /// <summary>Whether the stored inventory was read (or written) by this process.</summary>
    public bool Loaded => _loaded;

    /// <summary>
    /// Reads the stored inventory once (at the first sync); returns whether the store held one. With none, the
    /// store never held this proxy key's data: nobody needs to hear of the first sync's items one by one.
    /// </summary>
    public async Task<bool> LoadAsync(CancellationToken cancellationToken)
    {
        var stored = await store.GetAsync(Key, cancellationToken).ConfigureAwait(false);
        Current = Inventory.Parse(stored);
        _loaded = true;
        return stored is not null;
    }

    /// <summary>Reads the stored inventory unless this process already did; safe to call concurrently.</summary>
    public async Task EnsureLoadedAsync(CancellationToken cancellationToken)
    {
        if (_loaded)
        {
            return;
        }

        await _writing.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (!_loaded)
            {
                Current = Inventory.Parse(await store.GetAsync(Key, cancellationToken).ConfigureAwait(false));
                _loaded = true;
            }
        }
        finally
        {
            _writing.Release();
        }
    }

    /// <summary>Starts again from nothing (the proxy key was deleted); the stored copy is deleted by the caller.</summary>
    public void Reset()
    {
        Current = new Inventory();
        Interlocked.Exchange(ref _written, Interlocked.Read(ref _changes));
    }

    /// <summary>Records that <see cref="Current"/> changed; the loop writes it within <see cref="FlushInterval"/>.</summary>
    public void Changed() => Interlocked.Increment(ref _changes);

    /// <summary>Writes the inventory now when it changed since the last write.</summary>
    public async Task FlushAsync(CancellationToken cancellationToken)
    {
        await _writing.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var changes = Interlocked.Read(ref _changes);
            if (changes == Interlocked.Read(ref _written))
            {
                return;
            }

            var json = _json ?? new ArrayBufferWriter<byte>(InitialJsonCapacity);
            _json = null; // taken back only after a successful write: a failed one may still be sent from it
            json.ResetWrittenCount();
            Current.WriteJson(json, ref _sortSpace);
            await store.SetAsync(Key, json.WrittenMemory, cancellationToken).ConfigureAwait(false);
            _json = json;
            Interlocked.Exchange(ref _written, changes);
            _loaded = true;
        }
        finally
        {
            _writing.Release();
        }
    }

    /// <summary>Marks the inventory as needing a write even though it did not change (the store lost its copy).</summary>
    public void Rewrite() => Interlocked.Exchange(ref _written, Interlocked.Read(ref _changes) - 1);

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await FlushAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is StoreUnavailableException or OperationCanceledException)
        {
            LogFlushFailed(logger, ex.Message);
        }
    }

    protected override async Task RunAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(FlushInterval, time);
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
        {
            try
            {
                await FlushAsync(stoppingToken).ConfigureAwait(false);
            }
            catch (StoreUnavailableException ex)
            {
                // Kept dirty: the next tick tries again.
                LogFlushFailed(logger, ex.Message);
            }
        }
    }

    [LoggerMessage(EventId = LogEventIds.PrimarySaas.FlushFailed, Level = LogLevel.Warning, Message = "Could not write the inventory to the store: {Reason}")]
    private static partial void LogFlushFailed(ILogger logger, string reason);
}

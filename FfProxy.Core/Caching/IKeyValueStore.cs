namespace FfProxy.Core.Caching;

/// <summary>
/// The shared state: plain string keys holding JSON text (spec §4.1). Redis in a cluster, process memory
/// for a single node. Implementations throw <see cref="StoreUnavailableException"/> when unreachable.
/// </summary>
public interface IKeyValueStore
{
    /// <summary>Label used in cache metric names: "redis" or "in_mem".</summary>
    string Kind { get; }

    Task<byte[]?> GetAsync(string key, CancellationToken cancellationToken);

    /// <summary>
    /// Values of <paramref name="keys"/> in their order (null where absent), read in one round trip where the store
    /// allows it: pipelined single-key reads, so keys of different Redis Cluster slots may be mixed.
    /// </summary>
    Task<byte[]?[]> GetManyAsync(IReadOnlyList<string> keys, CancellationToken cancellationToken);

    /// <summary>
    /// Sets keys, pipelined. Values may be rented memory: the caller may reuse it once the returned task succeeded,
    /// not after a failure (the store may still send it).
    /// </summary>
    Task SetAsync(IReadOnlyCollection<KeyValuePair<string, ReadOnlyMemory<byte>>> entries, CancellationToken cancellationToken);

    /// <summary>
    /// Sets one key from memory the caller may reuse once the returned task succeeded (a large value written
    /// often, such as the inventory, is then built in a buffer that is kept instead of a new array each time).
    /// After a failure the store may still send the value, so the caller must not reuse the memory.
    /// </summary>
    Task SetAsync(string key, ReadOnlyMemory<byte> value, CancellationToken cancellationToken);

    /// <summary>
    /// Sets keys that lapse <paramref name="expiry"/> after their last write: data clients supply (targets) that
    /// must not accumulate without bound.
    /// </summary>
    Task SetExpiringAsync(IReadOnlyCollection<KeyValuePair<string, byte[]>> entries, TimeSpan expiry, CancellationToken cancellationToken);

    Task DeleteAsync(IReadOnlyCollection<string> keys, CancellationToken cancellationToken);

    /// <summary>Keys starting with <paramref name="prefix"/>.</summary>
    IAsyncEnumerable<string> ScanAsync(string prefix, CancellationToken cancellationToken);

    Task<bool> PingAsync(CancellationToken cancellationToken);
}

/// <summary>The store could not be reached; callers answer 503 or keep serving what they have.</summary>
public sealed class StoreUnavailableException(string message, Exception? inner = null) : Exception(message, inner);

using System.Collections.Concurrent;
using System.Runtime.CompilerServices;

namespace FfProxy.Core.Caching;

/// <summary>
/// The embedded store of a single node (no REDIS_ADDRESS): the same keys and values as Redis. Expiring keys lapse
/// like Redis keys with a TTL, and at most <see cref="MaxExpiringKeys"/> of them are kept (those closest to expiry
/// go first), so client-supplied data cannot grow the process without bound.
/// </summary>
public sealed class InMemoryKeyValueStore(TimeProvider time) : IKeyValueStore
{
    public const int MaxExpiringKeys = 100_000;

    private readonly ConcurrentDictionary<string, byte[]> _entries = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, DateTimeOffset> _expires = new(StringComparer.Ordinal);
    private readonly Lock _trim = new();

    public string Kind => "in_mem";

    public Task<byte[]?> GetAsync(string key, CancellationToken cancellationToken) =>
        Task.FromResult(!Lapsed(key) && _entries.TryGetValue(key, out var value) ? value : null);

    public Task<byte[]?[]> GetManyAsync(IReadOnlyList<string> keys, CancellationToken cancellationToken)
    {
        var values = new byte[]?[keys.Count];
        for (var i = 0; i < values.Length; i++)
        {
            values[i] = _entries.TryGetValue(keys[i], out var value) ? value : null;
        }

        return Task.FromResult(values);
    }

    public Task SetAsync(IReadOnlyCollection<KeyValuePair<string, ReadOnlyMemory<byte>>> entries, CancellationToken cancellationToken)
    {
        foreach (var (key, value) in entries)
        {
            // A copy: the caller may reuse its memory.
            _entries[key] = value.ToArray();
            _expires.TryRemove(key, out _);
        }

        return Task.CompletedTask;
    }

    public Task SetAsync(string key, ReadOnlyMemory<byte> value, CancellationToken cancellationToken)
    {
        // A copy: the caller reuses its memory.
        _entries[key] = value.ToArray();
        _expires.TryRemove(key, out _);
        return Task.CompletedTask;
    }

    public Task SetExpiringAsync(IReadOnlyCollection<KeyValuePair<string, byte[]>> entries, TimeSpan expiry, CancellationToken cancellationToken)
    {
        var expires = time.GetUtcNow() + expiry;
        foreach (var (key, value) in entries)
        {
            _expires[key] = expires;
            _entries[key] = value;
        }

        if (_expires.Count > MaxExpiringKeys)
        {
            Trim();
        }

        return Task.CompletedTask;
    }

    public Task DeleteAsync(IReadOnlyCollection<string> keys, CancellationToken cancellationToken)
    {
        foreach (var key in keys)
        {
            _entries.TryRemove(key, out _);
            _expires.TryRemove(key, out _);
        }

        return Task.CompletedTask;
    }

    public async IAsyncEnumerable<string> ScanAsync(string prefix, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await Task.CompletedTask.ConfigureAwait(false);
        foreach (var key in _entries.Keys)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (key.StartsWith(prefix, StringComparison.Ordinal) && !Lapsed(key))
            {
                yield return key;
            }
        }
    }

    public Task<bool> PingAsync(CancellationToken cancellationToken) => Task.FromResult(true);

    /// <summary>Expiring keys held (lapsed ones included until they are read or trimmed).</summary>
    public int ExpiringKeys => _expires.Count;

    private bool Lapsed(string key)
    {
        if (!_expires.TryGetValue(key, out var expires) || expires > time.GetUtcNow())
        {
            return false;
        }

        Remove(new KeyValuePair<string, DateTimeOffset>(key, expires));
        return true;
    }

    /// <summary>Drops lapsed keys, then those closest to expiry, down to 90 % of the bound (amortizes the sort).</summary>
    private void Trim()
    {
        lock (_trim)
        {
            var now = time.GetUtcNow();
            var ordered = _expires.ToArray();
            Array.Sort(ordered, (a, b) => a.Value.CompareTo(b.Value));
            var excess = ordered.Length - (MaxExpiringKeys * 9 / 10);
            foreach (var entry in ordered)
            {
                if (entry.Value > now && excess <= 0)
                {
                    break;
                }

                Remove(entry);
                excess--;
            }
        }
    }

    /// <summary>Removes the key only if it still has the expiry seen (a concurrent rewrite wins).</summary>
    private void Remove(KeyValuePair<string, DateTimeOffset> seen)
    {
        if (_expires.TryRemove(seen))
        {
            _entries.TryRemove(seen.Key, out _);
        }
    }
}

using System.Collections.Concurrent;
using System.Runtime.CompilerServices;

namespace FfProxy.Core.Caching;

/// <summary>The embedded store of a single node (no REDIS_ADDRESS): the same keys and values as Redis.</summary>
public sealed class InMemoryKeyValueStore : IKeyValueStore
{
    private readonly ConcurrentDictionary<string, byte[]> _entries = new(StringComparer.Ordinal);

    public string Kind => "in_mem";

    public Task<byte[]?> GetAsync(string key, CancellationToken cancellationToken) =>
        Task.FromResult(_entries.TryGetValue(key, out var value) ? value : null);

    public Task<byte[]?[]> GetManyAsync(IReadOnlyList<string> keys, CancellationToken cancellationToken)
    {
        var values = new byte[]?[keys.Count];
        for (var i = 0; i < values.Length; i++)
        {
            values[i] = _entries.TryGetValue(keys[i], out var value) ? value : null;
        }

        return Task.FromResult(values);
    }

    public Task SetAsync(IReadOnlyCollection<KeyValuePair<string, byte[]>> entries, CancellationToken cancellationToken)
    {
        foreach (var (key, value) in entries)
        {
            _entries[key] = value;
        }

        return Task.CompletedTask;
    }

    public Task DeleteAsync(IReadOnlyCollection<string> keys, CancellationToken cancellationToken)
    {
        foreach (var key in keys)
        {
            _entries.TryRemove(key, out _);
        }

        return Task.CompletedTask;
    }

    public async IAsyncEnumerable<string> ScanAsync(string prefix, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await Task.CompletedTask.ConfigureAwait(false);
        foreach (var key in _entries.Keys)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (key.StartsWith(prefix, StringComparison.Ordinal))
            {
                yield return key;
            }
        }
    }

    public Task<bool> PingAsync(CancellationToken cancellationToken) => Task.FromResult(true);
}

using FfProxy.Core.Domain;

namespace FfProxy.Core.Sdk;

/// <summary>
/// Targets seen at authentication, remembered in process for <see cref="Lifetime"/> so client-SDK evaluations
/// (which name the target only by identifier) do not read Redis on every request. Absence is remembered too.
/// A target re-authenticated on another instance with new attributes is seen here within <see cref="Lifetime"/>.
/// Bounded by count and by size, least recently used first out, because identifiers come from clients: a client key
/// posting distinct targets must not grow the process without limit.
/// </summary>
internal sealed class TargetCache(TimeProvider time)
{
    public static TimeSpan Lifetime { get; } = TimeSpan.FromSeconds(30);

    /// <summary>Entries kept at most; the least recently used go first.</summary>
    public const int MaxEntries = 100_000;

    /// <summary>Estimated bytes of targets kept at most (64 MiB).</summary>
    public const long MaxBytes = 64L * 1024 * 1024;

    /// <summary>Estimated size of an entry without its target (key strings, node, bookkeeping).</summary>
    private const long EntryOverhead = 200;

    private readonly Lock _gate = new();
    private readonly Dictionary<(string Environment, string Identifier), LinkedListNode<Entry>> _entries = [];
    private readonly LinkedList<Entry> _recency = new();   // most recently used first
    private long _bytes;

    public int Count
    {
        get { lock (_gate) { return _entries.Count; } }
    }

    /// <summary>Estimated bytes held.</summary>
    public long Bytes
    {
        get { lock (_gate) { return _bytes; } }
    }

    /// <summary>True when the answer is known: <paramref name="target"/> is then the stored target, or null for none.</summary>
    public bool TryGet(string environment, string identifier, out Target? target)
    {
        lock (_gate)
        {
            if (_entries.TryGetValue((environment, identifier), out var node) && node.Value.Expires > time.GetTimestamp())
            {
                _recency.Remove(node);
                _recency.AddFirst(node);
                target = node.Value.Target;
                return true;
            }
        }

        target = null;
        return false;
    }

    public void Set(string environment, string identifier, Target? target)
    {
        var key = (environment, identifier);
        var entry = new Entry(key, target, time.GetTimestamp() + (long)(Lifetime.TotalSeconds * time.TimestampFrequency), Estimate(environment, identifier, target));
        lock (_gate)
        {
            if (_entries.TryGetValue(key, out var old))
            {
                Remove(old);
            }

            if (entry.Bytes > MaxBytes)
            {
                return;
            }

            _entries[key] = _recency.AddFirst(entry);
            _bytes += entry.Bytes;
            while (_entries.Count > MaxEntries || _bytes > MaxBytes)
            {
                Remove(_recency.Last!);
            }
        }
    }

    private void Remove(LinkedListNode<Entry> node)
    {
        _recency.Remove(node);
        _entries.Remove(node.Value.Key);
        _bytes -= node.Value.Bytes;
    }

    /// <summary>UTF-16 characters of everything the target holds, plus a fixed overhead.</summary>
    internal static long Estimate(string environment, string identifier, Target? target)
    {
        long chars = environment.Length + identifier.Length;
        if (target is not null)
        {
            chars += target.Identifier.Length + (target.Name?.Length ?? 0);
            foreach (var (name, value) in target.Attributes ?? [])
            {
                chars += name.Length + value.GetRawText().Length;
            }
        }

        return EntryOverhead + (chars * 2);
    }

    private readonly record struct Entry((string Environment, string Identifier) Key, Target? Target, long Expires, long Bytes);
}

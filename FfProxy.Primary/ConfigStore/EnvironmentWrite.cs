using System.Buffers;
using System.Security.Cryptography;
using System.Text.Json;
using FfProxy.Core.Caching;
using FfProxy.Core.Domain;

namespace FfProxy.Primary.ConfigStore;

/// <summary>
/// What making the store hold <c>next</c> instead of <c>current</c> for one environment takes (spec §4.2 layout): the
/// keys to write (single items, lists with their <c>-latest</c> hashes, SDK-key entries, targets) and to delete, and
/// the events to publish. Computed in memory from the two configurations, so a one-item change costs that item, its
/// list and its hash, never a read of the store. The lists it writes are in rented buffers (a list is written on
/// every event of its environment: ~50 KB each in a large account): <see cref="ReturnBuffers"/> gives them back once
/// the store has them.
/// </summary>
internal sealed class EnvironmentWrite
{
    private EnvironmentWrite(EnvironmentConfig stored, List<KeyValuePair<string, ReadOnlyMemory<byte>>> writes, List<string> deletes,
        List<StreamMessage> events, List<string> addedApiKeys, List<string> removedApiKeys, RentedList? flagList, RentedList? segmentList)
    {
        Stored = stored;
        Writes = writes;
        Deletes = deletes;
        Events = events;
        AddedApiKeys = addedApiKeys;
        RemovedApiKeys = removedApiKeys;
        _flagList = flagList;
        _segmentList = segmentList;
    }

    private RentedList? _flagList;
    private RentedList? _segmentList;

    /// <summary>The environment as stored afterwards (versions bumped where decided): the next write's <c>current</c>.</summary>
    public EnvironmentConfig Stored { get; }

    public IReadOnlyList<KeyValuePair<string, ReadOnlyMemory<byte>>> Writes { get; }

    /// <summary>Keys to delete after the writes: a reader never sees a list naming a key already gone.</summary>
    public IReadOnlyList<string> Deletes { get; }

    public IReadOnlyList<StreamMessage> Events { get; }

    /// <summary>SDK-key entries (<c>auth-key-{hash}</c>) added and removed.</summary>
    public IReadOnlyList<string> AddedApiKeys { get; }

    public IReadOnlyList<string> RemovedApiKeys { get; }

    public bool StoreChanged => Writes.Count > 0 || Deletes.Count > 0;

    public static EnvironmentWrite Plan(EnvironmentConfig current, EnvironmentConfig next, ItemVersioning versioning, bool announceCreates = true)
    {
        var env = next.Environment;
        var writes = new List<KeyValuePair<string, ReadOnlyMemory<byte>>>();
        var deletes = new List<string>();
        var events = new List<StreamMessage>();

        var flags = ItemChanges.Decide(env, StreamEvents.FlagDomain, current.Flags, next.Flags, versioning, announceCreates);
        var flagList = Apply(flags, CacheKeys.FeatureConfigs(env), id => CacheKeys.FeatureConfig(env, id), writes, deletes, events);
        var segments = ItemChanges.Decide(env, StreamEvents.SegmentDomain, current.Segments, next.Segments, versioning, announceCreates);
        var segmentList = Apply(segments, CacheKeys.Segments(env), id => CacheKeys.Segment(env, id), writes, deletes, events);

        var currentKeys = ApiKeyEntries(current.ApiKeyHashes);
        var nextKeys = ApiKeyEntries(next.ApiKeyHashes);
        var added = nextKeys.Except(currentKeys, StringComparer.Ordinal).ToList();
        var removed = currentKeys.Except(nextKeys, StringComparer.Ordinal).ToList();
        var envValue = JsonSerializer.SerializeToUtf8Bytes(env, ProxyJsonContext.Default.String);
        foreach (var key in added)
        {
            writes.Add(new(key, envValue));
        }

        deletes.AddRange(removed);
        if (nextKeys.Count > 0)
        {
            if (added.Count > 0 || removed.Count > 0)
            {
                writes.Add(new(CacheKeys.ApiConfigs(env), JsonSerializer.SerializeToUtf8Bytes(nextKeys, ProxyJsonContext.Default.ListString)));
            }
        }
        else if (currentKeys.Count > 0)
        {
            deletes.Add(CacheKeys.ApiConfigs(env));
        }

        foreach (var target in next.Targets)
        {
            writes.Add(new(CacheKeys.TargetConfig(env, target.Identifier), target.Json));
        }

        if (next.Targets.Count > 0)
        {
            writes.Add(new(CacheKeys.TargetConfigs(env), JoinArray(next.Targets, exact: true).Memory));
        }

        var stored = new EnvironmentConfig(env, [.. next.ApiKeyHashes.Select(h => h.ToLowerInvariant()).Distinct(StringComparer.Ordinal)],
            flags.Stored, segments.Stored, []);
        return new EnvironmentWrite(stored, writes, deletes, events, added, removed, flagList, segmentList);
    }

    /// <summary>What a snapshot is built from, as stored after this write (without reading it back).</summary>
    public StoredEnvironment ToStoredEnvironment() => new(
        Stored.Environment,
        _flagList?.Memory.ToArray() ?? (Stored.Flags.Count > 0 ? JoinArray(Stored.Flags, exact: true).Array : null),
        _segmentList?.Memory.ToArray() ?? (Stored.Segments.Count > 0 ? JoinArray(Stored.Segments, exact: true).Array : null),
        ApiKeyEntries(Stored.ApiKeyHashes));

    /// <summary>
    /// Gives the list buffers back to the pool; call only after the store took <see cref="Writes"/> successfully
    /// (after a failure the store may still send them, so they are left to the GC). Writes must not be used after.
    /// </summary>
    public void ReturnBuffers()
    {
        _flagList?.Return();
        _segmentList?.Return();
        _flagList = null;
        _segmentList = null;
    }

    /// <returns>The new list JSON when the list is written, null otherwise.</returns>
    private static RentedList? Apply(ItemChanges changes, string listKey, Func<string, string> itemKey,
        List<KeyValuePair<string, ReadOnlyMemory<byte>>> writes, List<string> deletes, List<StreamMessage> events)
    {
        foreach (var item in changes.Written)
        {
            writes.Add(new(itemKey(item.Identifier), item.Json));
        }

        deletes.AddRange(changes.Deleted.Select(itemKey));
        events.AddRange(changes.Events);
        if (!changes.ListChanged)
        {
            return null;
        }

        if (changes.Stored.Count == 0)
        {
            deletes.Add(listKey);
            deletes.Add(CacheKeys.Latest(listKey));
            return null;
        }

        var list = JoinArray(changes.Stored, exact: false);
        writes.Add(new(listKey, list.Memory));
        writes.Add(new(CacheKeys.Latest(listKey), JsonSerializer.SerializeToUtf8Bytes(
            Convert.ToHexStringLower(SHA256.HashData(list.Memory.Span)), ProxyJsonContext.Default.String)));
        return list;
    }

    private static List<string> ApiKeyEntries(IReadOnlyList<string> hashes) =>
        [.. hashes.Select(h => CacheKeys.AuthKey(h.ToLowerInvariant())).Distinct(StringComparer.Ordinal)];

    /// <summary>
    /// <c>[item,item,…]</c>, measured first and written once: into an array of the exact size, or one rented from the
    /// pool (<paramref name="exact"/> false; a growing buffer would allocate about three times the list).
    /// </summary>
    private static RentedList JoinArray(IReadOnlyList<ConfigItem> items, bool exact)
    {
        var length = 2 + Math.Max(0, items.Count - 1);
        foreach (var item in items)
        {
            length += item.Json.Length;
        }

        var joined = exact ? new byte[length] : ArrayPool<byte>.Shared.Rent(length);
        joined[0] = (byte)'[';
        var at = 1;
        for (var i = 0; i < items.Count; i++)
        {
            if (i > 0)
            {
                joined[at++] = (byte)',';
            }

            items[i].Json.CopyTo(joined, at);
            at += items[i].Json.Length;
        }

        joined[at] = (byte)']';
        return new RentedList(joined, length, rented: !exact);
    }

    /// <summary>A joined list: <see cref="Array"/>'s first <c>length</c> bytes, rented from the shared pool or not.</summary>
    private sealed class RentedList(byte[] array, int length, bool rented)
    {
        public byte[] Array { get; } = array;

        public ReadOnlyMemory<byte> Memory { get; } = array.AsMemory(0, length);

        public void Return()
        {
            if (rented)
            {
                ArrayPool<byte>.Shared.Return(Array);
            }
        }
    }
}

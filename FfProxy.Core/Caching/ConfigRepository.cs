using System.Buffers;
using System.Text.Json;
using FfProxy.Core.Domain;
using Microsoft.Extensions.Logging;

namespace FfProxy.Core.Caching;

/// <summary>What a stored environment holds, read back in one go for building a snapshot.</summary>
public sealed record StoredEnvironment(string Environment, byte[]? FeatureConfigs, byte[]? Segments, IReadOnlyList<string> ApiKeys)
{
    public bool Exists => FeatureConfigs is not null || Segments is not null || ApiKeys.Count > 0;
}

/// <summary>What changed in the store when an environment was replaced or removed.</summary>
public sealed record ConfigChanges(
    IReadOnlyList<StreamMessage> Events,
    IReadOnlyList<string> AddedApiKeys,
    IReadOnlyList<string> RemovedApiKeys,
    bool StoreChanged)
{
    public static readonly ConfigChanges None = new([], [], [], false);

    public bool IsEmpty => Events.Count == 0 && AddedApiKeys.Count == 0 && RemovedApiKeys.Count == 0;
}

/// <summary>How a replacement treats an item whose content changed.</summary>
public enum ItemVersioning
{
    /// <summary>
    /// Hand-edited sources (the offline directory) reuse versions; an edited item gets the next version so
    /// SDKs, which drop updates that are not newer than what they hold, take it.
    /// </summary>
    BumpOnEdit,

    /// <summary>
    /// SaaS versions are authoritative and stored as received; a patch event is sent only when the version
    /// went up (the Go proxy's versioned inventory), so a re-sync does not make every SDK refetch.
    /// </summary>
    AsReceived,
}

/// <summary>
/// Typed reads and writes of the spec §4 key layout over any <see cref="IKeyValueStore"/>. Writes compare
/// with what is stored so callers learn exactly which flags and groups were created, changed or deleted.
/// </summary>
public sealed partial class ConfigRepository(IKeyValueStore store, ILogger<ConfigRepository> logger)
{
    private const string FlagIdentifier = "feature";
    private const string SegmentIdentifier = "identifier";

    public IKeyValueStore Store => store;

    /// <summary>The environment an SDK key hash belongs to, or null when the key is unknown.</summary>
    public async Task<string?> GetEnvironmentForKeyAsync(string keyHash, CancellationToken cancellationToken)
    {
        var value = await store.GetAsync(CacheKeys.AuthKey(keyHash), cancellationToken).ConfigureAwait(false);
        return value is null ? null : ReadJsonString(value);
    }

    public async Task<StoredEnvironment> LoadEnvironmentAsync(string env, CancellationToken cancellationToken)
    {
        var flags = store.GetAsync(CacheKeys.FeatureConfigs(env), cancellationToken);
        var segments = store.GetAsync(CacheKeys.Segments(env), cancellationToken);
        var apiConfigs = store.GetAsync(CacheKeys.ApiConfigs(env), cancellationToken);
        await Task.WhenAll(flags, segments, apiConfigs).ConfigureAwait(false);
        return new StoredEnvironment(env, await flags.ConfigureAwait(false), await segments.ConfigureAwait(false), ReadStringList(await apiConfigs.ConfigureAwait(false)));
    }

    /// <summary>The stored flags, groups and SDK-key hashes of an environment, as a config to edit and replace.</summary>
    public async Task<EnvironmentConfig> ReadEnvironmentConfigAsync(string env, CancellationToken cancellationToken)
    {
        var stored = await LoadEnvironmentAsync(env, cancellationToken).ConfigureAwait(false);
        return new EnvironmentConfig(
            env,
            [.. stored.ApiKeys.Where(k => k.StartsWith(CacheKeys.AuthKeyPrefix, StringComparison.Ordinal)).Select(k => k[CacheKeys.AuthKeyPrefix.Length..])],
            AsItems(ReadItems(stored.FeatureConfigs, FlagIdentifier)),
            AsItems(ReadItems(stored.Segments, SegmentIdentifier)),
            []);

        static List<ConfigItem> AsItems(Dictionary<string, (long Version, byte[] Json)> items) =>
            [.. items.Select(i => ConfigItem.Stored(i.Key, i.Value.Version, i.Value.Json))];
    }

    /// <summary>
    /// Makes the store hold exactly <paramref name="next"/> for its environment: writes lists, their
    /// <c>-latest</c> companions, single items and SDK-key entries, and deletes what disappeared.
    /// </summary>
    public async Task<ConfigChanges> ReplaceEnvironmentAsync(EnvironmentConfig next, ItemVersioning versioning, CancellationToken cancellationToken)
    {
        var env = next.Environment;
        var current = await LoadEnvironmentAsync(env, cancellationToken).ConfigureAwait(false);
        var writes = new List<KeyValuePair<string, byte[]>>();
        var deletes = new List<string>();
        var events = new List<StreamMessage>();

        DiffItems(env, StreamEvents.FlagDomain, ReadItems(current.FeatureConfigs, FlagIdentifier), next.Flags, CacheKeys.FeatureConfigs(env),
            id => CacheKeys.FeatureConfig(env, id), versioning, writes, deletes, events);
        DiffItems(env, StreamEvents.SegmentDomain, ReadItems(current.Segments, SegmentIdentifier), next.Segments, CacheKeys.Segments(env),
            id => CacheKeys.Segment(env, id), versioning, writes, deletes, events);

        var nextKeys = next.ApiKeyHashes.Select(h => CacheKeys.AuthKey(h.ToLowerInvariant())).Distinct(StringComparer.Ordinal).ToList();
        var added = nextKeys.Except(current.ApiKeys, StringComparer.Ordinal).ToList();
        var removed = current.ApiKeys.Except(nextKeys, StringComparer.Ordinal).ToList();
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
        else if (current.ApiKeys.Count > 0)
        {
            deletes.Add(CacheKeys.ApiConfigs(env));
        }

        foreach (var target in next.Targets)
        {
            writes.Add(new(CacheKeys.TargetConfig(env, target.Identifier), target.Json));
        }

        if (next.Targets.Count > 0)
        {
            writes.Add(new(CacheKeys.TargetConfigs(env), JoinArray(next.Targets)));
        }

        // Data first, deletions last: a reader never sees a list that names a key already gone.
        if (writes.Count > 0)
        {
            await store.SetAsync(writes, cancellationToken).ConfigureAwait(false);
        }

        if (deletes.Count > 0)
        {
            await store.DeleteAsync(deletes, cancellationToken).ConfigureAwait(false);
        }

        var changes = new ConfigChanges(events, added, removed, writes.Count > 0 || deletes.Count > 0);
        if (!changes.IsEmpty)
        {
            LogEnvironmentReplaced(logger, env, events.Count, added.Count, removed.Count);
        }

        return changes;
    }

    /// <summary>Deletes every key of an environment; returns delete events for its flags and groups.</summary>
    public async Task<ConfigChanges> RemoveEnvironmentAsync(string env, CancellationToken cancellationToken)
    {
        var changes = await ReplaceEnvironmentAsync(new EnvironmentConfig(env, [], [], [], []), ItemVersioning.AsReceived, cancellationToken).ConfigureAwait(false);
        var targetKeys = new List<string>();
        await foreach (var key in store.ScanAsync($"env-{env}-target-config", cancellationToken).ConfigureAwait(false))
        {
            targetKeys.Add(key);
        }

        if (targetKeys.Count > 0)
        {
            await store.DeleteAsync(targetKeys, cancellationToken).ConfigureAwait(false);
        }

        return changes;
    }

    /// <summary>
    /// How long a target seen at authentication is kept after its last authentication. The spec's target keys have
    /// no expiry; ours do, because their identifiers come from clients and would otherwise accumulate for ever.
    /// </summary>
    public static TimeSpan TargetExpiry { get; } = TimeSpan.FromHours(24);

    /// <summary>Stores a target seen at authentication; evaluations use it when no Harness-Target header comes.</summary>
    public Task SaveTargetAsync(string env, Target target, CancellationToken cancellationToken)
    {
        var json = JsonSerializer.SerializeToUtf8Bytes(target, ProxyJsonContext.Default.Target);

        // Like the Go proxy, the list key holds the most recently authenticated target; nothing reads it.
        var list = new byte[json.Length + 2];
        list[0] = (byte)'[';
        json.CopyTo(list, 1);
        list[^1] = (byte)']';
        return store.SetExpiringAsync([new(CacheKeys.TargetConfig(env, target.Identifier), json), new(CacheKeys.TargetConfigs(env), list)], TargetExpiry, cancellationToken);
    }

    public async Task<Target?> GetTargetAsync(string env, string identifier, CancellationToken cancellationToken)
    {
        var json = await store.GetAsync(CacheKeys.TargetConfig(env, identifier), cancellationToken).ConfigureAwait(false);
        if (json is null)
        {
            return null;
        }

        try
        {
            return JsonSerializer.Deserialize(json, ProxyJsonContext.Default.Target);
        }
        catch (JsonException ex)
        {
            LogBadStoredTarget(logger, env, ex);
            return null;
        }
    }

    private static void DiffItems(
        string env,
        string domain,
        Dictionary<string, (long Version, byte[] Json)> current,
        IReadOnlyList<ConfigItem> next,
        string listKey,
        Func<string, string> itemKey,
        ItemVersioning versioning,
        List<KeyValuePair<string, byte[]>> writes,
        List<string> deletes,
        List<StreamMessage> events)
    {
        var changed = false;
        var stored = new List<ConfigItem>(next.Count);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var item in next)
        {
            if (!seen.Add(item.Identifier))
            {
                continue; // duplicate identifier: the first one wins, as for the single-item keys
            }

            if (!current.TryGetValue(item.Identifier, out var old))
            {
                stored.Add(item);
                events.Add(Event(StreamEvents.Create, domain, item.Identifier, item.Version, env));
                writes.Add(new(itemKey(item.Identifier), item.Json));
                changed = true;
                continue;
            }

            var candidate = item;
            if (versioning == ItemVersioning.BumpOnEdit && !old.Json.AsSpan().SequenceEqual(item.Json) && item.Version <= old.Version)
            {
                // SDKs drop an update whose version is not newer than theirs. A hand-edited offline file
                // (or a source that reuses a version) gets the next version, unless only the version differs.
                candidate = item.WithVersion(old.Version);
                if (!old.Json.AsSpan().SequenceEqual(candidate.Json))
                {
                    candidate = item.WithVersion(old.Version + 1);
                }
            }

            if (old.Json.AsSpan().SequenceEqual(candidate.Json))
            {
                stored.Add(ConfigItem.Stored(item.Identifier, old.Version, old.Json));
                continue;
            }

            stored.Add(candidate);
            if (candidate.Version > old.Version || versioning == ItemVersioning.BumpOnEdit)
            {
                events.Add(Event(StreamEvents.Patch, domain, item.Identifier, candidate.Version, env));
            }

            writes.Add(new(itemKey(item.Identifier), candidate.Json));
            changed = true;
        }

        foreach (var (identifier, old) in current)
        {
            if (!seen.Contains(identifier))
            {
                changed = true;
                deletes.Add(itemKey(identifier));
                events.Add(Event(StreamEvents.Delete, domain, identifier, old.Version, env));
            }
        }

        next = stored;
        if (!changed && !ListOrderChanged(current, next))
        {
            return;
        }

        if (next.Count == 0)
        {
            deletes.Add(listKey);
            deletes.Add(CacheKeys.Latest(listKey));
            return;
        }

        var list = JoinArray(next);
        writes.Add(new(listKey, list));
        writes.Add(new(CacheKeys.Latest(listKey), JsonSerializer.SerializeToUtf8Bytes(
            Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(list)), ProxyJsonContext.Default.String)));
    }

    private static bool ListOrderChanged(Dictionary<string, (long Version, byte[] Json)> current, IReadOnlyList<ConfigItem> next)
    {
        if (current.Count != next.Count)
        {
            return true;
        }

        var index = 0;
        foreach (var identifier in current.Keys)
        {
            if (!string.Equals(identifier, next[index++].Identifier, StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }

    private static StreamMessage Event(string kind, string domain, string identifier, long version, string env) =>
        new() { Event = kind, Domain = domain, Identifier = identifier, Version = version, Environment = env };

    private static byte[] JoinArray(IReadOnlyList<ConfigItem> items)
    {
        var buffer = new ArrayBufferWriter<byte>();
        buffer.Write("["u8);
        for (var i = 0; i < items.Count; i++)
        {
            if (i > 0)
            {
                buffer.Write(","u8);
            }

            buffer.Write(items[i].Json);
        }

        buffer.Write("]"u8);
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>Items of a stored list by identifier, in list order (Dictionary keeps insertion order without removals).</summary>
    private static Dictionary<string, (long Version, byte[] Json)> ReadItems(byte[]? list, string identifierProperty)
    {
        var items = new Dictionary<string, (long, byte[])>(StringComparer.Ordinal);
        if (list is null)
        {
            return items;
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(list);
        }
        catch (JsonException)
        {
            return items; // unreadable: everything is rewritten
        }

        using var owner = document;
        if (document.RootElement.ValueKind != JsonValueKind.Array)
        {
            return items;
        }

        foreach (var element in document.RootElement.EnumerateArray())
        {
            if (element.ValueKind == JsonValueKind.Object
                && element.TryGetProperty(identifierProperty, out var id) && id.ValueKind == JsonValueKind.String)
            {
                var version = element.TryGetProperty("version", out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetInt64(out var parsed) ? parsed : 0;

                // Stored items were normalised on write, so their raw text compares byte for byte.
                items.TryAdd(id.GetString()!, (version, System.Text.Encoding.UTF8.GetBytes(element.GetRawText())));
            }
        }

        return items;
    }

    private static string? ReadJsonString(byte[] value)
    {
        try
        {
            return JsonSerializer.Deserialize(value, ProxyJsonContext.Default.String);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static List<string> ReadStringList(byte[]? value)
    {
        if (value is null)
        {
            return [];
        }

        try
        {
            return JsonSerializer.Deserialize(value, ProxyJsonContext.Default.ListString) ?? [];
        }
        catch (JsonException)
        {
            return [];
        }
    }

    [LoggerMessage(EventId = 1101, Level = LogLevel.Information, Message = "Environment {Environment} stored: {EventCount} flag/group changes, {AddedKeys} SDK keys added, {RemovedKeys} removed")]
    private static partial void LogEnvironmentReplaced(ILogger logger, string environment, int eventCount, int addedKeys, int removedKeys);

    [LoggerMessage(EventId = 1102, Level = LogLevel.Warning, Message = "Stored target of environment {Environment} is not valid JSON; ignoring it")]
    private static partial void LogBadStoredTarget(ILogger logger, string environment, Exception exception);
}

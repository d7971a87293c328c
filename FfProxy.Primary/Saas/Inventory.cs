using System.Buffers;
using System.Text.Json;
using FfProxy.Core.Caching;
using FfProxy.Primary.ConfigStore;

namespace FfProxy.Primary.Saas;

/// <summary>
/// <c>key-{proxyKey}-inventory</c> (spec §4.2, §4.5): every Redis key this Proxy Key owns, mapped to the
/// item's version (0 for lists and SDK keys), grouped here by environment so removals find their keys.
/// Thread-safe: environments change concurrently. An environment's key map is replaced whole, never edited, so
/// readers copy the map references under the lock and read them outside it.
/// </summary>
internal sealed class Inventory
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, Dictionary<string, long>> _byEnvironment = new(StringComparer.Ordinal);

    /// <summary>Environments the inventory holds keys of (a copy).</summary>
    public IReadOnlyCollection<string> Environments
    {
        get
        {
            lock (_lock)
            {
                return [.. _byEnvironment.Keys];
            }
        }
    }

    /// <summary>Every key with its version.</summary>
    public IEnumerable<KeyValuePair<string, long>> Keys => Maps().SelectMany(keys => keys);

    public bool Contains(string environment)
    {
        lock (_lock)
        {
            return _byEnvironment.ContainsKey(environment);
        }
    }

    /// <summary>Reads a stored inventory; values may be the 2.0.9 <c>""</c> or a version number.</summary>
    public static Inventory Parse(byte[]? json)
    {
        var inventory = new Inventory();
        if (json is null)
        {
            return inventory;
        }

        try
        {
            using var document = JsonDocument.Parse(json);
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                return inventory;
            }

            var authKeys = new List<string>();
            foreach (var property in document.RootElement.EnumerateObject())
            {
                var version = property.Value.ValueKind == JsonValueKind.Number && property.Value.TryGetInt64(out var v) ? v : 0;
                if (EnvironmentOf(property.Name) is { } env)
                {
                    inventory.Add(env, property.Name, version);
                }
                else
                {
                    authKeys.Add(property.Name);
                }
            }

            // auth-key-* names carry no environment; keep them so a cleanup still deletes them.
            foreach (var key in authKeys)
            {
                inventory.Add("", key, 0);
            }
        }
        catch (JsonException)
        {
            // Unreadable: treated as empty, the next save replaces it.
        }

        return inventory;
    }

    /// <summary>The keys the stored form of <paramref name="config"/> occupies (spec §4.5 step 2).</summary>
    public void Set(EnvironmentConfig config)
    {
        var env = config.Environment;
        var keys = new Dictionary<string, long>(StringComparer.Ordinal);
        if (config.ApiKeyHashes.Count > 0)
        {
            keys[CacheKeys.ApiConfigs(env)] = 0;
            foreach (var hash in config.ApiKeyHashes)
            {
                keys[CacheKeys.AuthKey(hash.ToLowerInvariant())] = 0;
            }
        }

        if (config.Flags.Count > 0)
        {
            keys[CacheKeys.FeatureConfigs(env)] = 0;
            foreach (var flag in config.Flags)
            {
                keys[CacheKeys.FeatureConfig(env, flag.Identifier)] = flag.Version;
            }
        }

        if (config.Segments.Count > 0)
        {
            keys[CacheKeys.Segments(env)] = 0;
            foreach (var segment in config.Segments)
            {
                // Keyed by identifier (2.0.9 used the name, spec §11).
                keys[CacheKeys.Segment(env, segment.Identifier)] = segment.Version;
            }
        }

        lock (_lock)
        {
            _byEnvironment[env] = keys;
        }
    }

    public void Remove(string environment)
    {
        lock (_lock)
        {
            _byEnvironment.Remove(environment);
        }
    }

    public IReadOnlyCollection<string> KeysOf(string environment)
    {
        lock (_lock)
        {
            return _byEnvironment.TryGetValue(environment, out var keys) ? keys.Keys : [];
        }
    }

    /// <summary>The stored form (see <see cref="WriteJson"/>) as a new array.</summary>
    public byte[] ToJson()
    {
        var buffer = new ArrayBufferWriter<byte>();
        KeyValuePair<string, long>[]? sortSpace = null;
        WriteJson(buffer, ref sortSpace);
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>
    /// Writes the stored form into <paramref name="buffer"/>: one JSON object, keys in ordinal order as Go's encoder
    /// writes maps. One sort and one pass of a writer: a 67k-entry inventory costs tens of milliseconds. The sort
    /// runs in <paramref name="sortSpace"/>, replaced only when too small, so a caller that writes the inventory
    /// often keeps the megabyte-sized array instead of leaving one to the large object heap on every write.
    /// </summary>
    public void WriteJson(IBufferWriter<byte> buffer, ref KeyValuePair<string, long>[]? sortSpace)
    {
        var maps = Maps();
        var count = maps.Sum(keys => keys.Count);
        if (sortSpace is null || sortSpace.Length < count)
        {
            sortSpace = new KeyValuePair<string, long>[count];
        }

        var all = sortSpace.AsSpan(0, count);
        var index = 0;
        foreach (var keys in maps)
        {
            foreach (var entry in keys)
            {
                all[index++] = entry;
            }
        }

        all.Sort(static (a, b) => string.CompareOrdinal(a.Key, b.Key));
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            string? previous = null;
            foreach (var (key, version) in all)
            {
                if (key != previous)
                {
                    writer.WriteNumber(key, version);
                }

                previous = key;
            }

            writer.WriteEndObject();
        }

        // The kept array must not keep keys of removed environments alive.
        all.Clear();
    }

    private List<Dictionary<string, long>> Maps()
    {
        lock (_lock)
        {
            return [.. _byEnvironment.Values];
        }
    }

    private void Add(string environment, string key, long version)
    {
        if (!_byEnvironment.TryGetValue(environment, out var keys))
        {
            keys = new Dictionary<string, long>(StringComparer.Ordinal);
            _byEnvironment[environment] = keys;
        }

        keys[key] = version;
    }

    /// <summary>The environment named in an <c>env-{env}-…</c> key, or null for other keys.</summary>
    internal static string? EnvironmentOf(string key) => CacheKeys.EnvironmentOf(key);
}

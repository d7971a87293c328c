using System.Text.Json;
using FfProxy.Core.Caching;

namespace FfProxy.Primary.ConfigStore;

/// <summary>Reads what a store holds for an environment back as an <see cref="EnvironmentConfig"/> to compare and edit.</summary>
internal static class StoredConfig
{
    private const string FlagIdentifier = "feature";
    private const string SegmentIdentifier = "identifier";

    public static EnvironmentConfig Read(StoredEnvironment stored) => new(
        stored.Environment,
        [.. stored.ApiKeys.Where(k => k.StartsWith(CacheKeys.AuthKeyPrefix, StringComparison.Ordinal)).Select(k => k[CacheKeys.AuthKeyPrefix.Length..])],
        ReadItems(stored.FeatureConfigs, FlagIdentifier),
        ReadItems(stored.Segments, SegmentIdentifier),
        []);

    public static async Task<EnvironmentConfig> ReadAsync(ConfigRepository repository, string environment, CancellationToken cancellationToken) =>
        Read(await repository.LoadEnvironmentAsync(environment, cancellationToken).ConfigureAwait(false));

    /// <summary>Items of a stored list in list order; the first of duplicate identifiers wins. Unreadable lists read as empty.</summary>
    private static List<ConfigItem> ReadItems(byte[]? list, string identifierProperty)
    {
        var items = new List<ConfigItem>();
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

        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var element in document.RootElement.EnumerateArray())
        {
            if (element.ValueKind == JsonValueKind.Object
                && element.TryGetProperty(identifierProperty, out var id) && id.ValueKind == JsonValueKind.String
                && seen.Add(id.GetString()!))
            {
                var version = element.TryGetProperty("version", out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetInt64(out var parsed) ? parsed : 0;

                // Stored items were normalised on write, so their raw text compares byte for byte.
                items.Add(ConfigItem.Stored(id.GetString()!, version, System.Text.Encoding.UTF8.GetBytes(element.GetRawText())));
            }
        }

        return items;
    }
}

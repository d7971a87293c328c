using System.Text.Json;
using FfProxy.Core.Caching;
using FfProxy.Primary.ConfigStore;
using FfProxy.Core.Domain;

namespace FfProxy.Primary.Offline;

/// <summary>The result of reading one <c>env-&lt;id&gt;</c> directory: its configuration, or why it was rejected.</summary>
internal sealed record OfflineEnvironment(string Environment, string Directory, EnvironmentConfig? Config, string? Error);

/// <summary>
/// Reads the offline configuration directory (spec §5): every directory named <c>env-&lt;uuid&gt;</c>, at any
/// depth, holds <c>auth_config.json</c> (SDK-key SHA-256 hashes), <c>feature_config.json</c>,
/// <c>segments.json</c> and <c>targets.json</c>. A file that is missing means an empty list; a file that is
/// malformed rejects its whole environment, so a half-edited file never replaces a good configuration.
/// </summary>
internal static class OfflineDirectory
{
    public const string AuthConfigFile = "auth_config.json";
    public const string FeatureConfigFile = "feature_config.json";
    public const string SegmentsFile = "segments.json";
    public const string TargetsFile = "targets.json";
    public const string EnvironmentPrefix = "env-";

    private static readonly JsonDocumentOptions DocumentOptions = new() { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip };

    public static IReadOnlyList<OfflineEnvironment> Read(string root)
    {
        var result = new List<OfflineEnvironment>();
        foreach (var directory in EnvironmentDirectories(root))
        {
            var environment = EnvironmentId(Path.GetFileName(directory));
            try
            {
                result.Add(new OfflineEnvironment(environment, directory, ReadEnvironment(environment, directory), null));
            }
            catch (Exception ex) when (ex is JsonException or InvalidDataException or IOException or UnauthorizedAccessException)
            {
                result.Add(new OfflineEnvironment(environment, directory, null, ex.Message));
            }
        }

        return result;
    }

    /// <summary>A cheap fingerprint of every file under <paramref name="root"/> (path, size, write time).</summary>
    public static string Fingerprint(string root)
    {
        var hash = new HashCode();
        try
        {
            foreach (var file in Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
            {
                var info = new FileInfo(file);
                hash.Add(file, StringComparer.Ordinal);
                hash.Add(info.Length);
                hash.Add(info.LastWriteTimeUtc.Ticks);
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            hash.Add(ex.GetType().Name, StringComparer.Ordinal);
        }

        return hash.ToHashCode().ToString(System.Globalization.CultureInfo.InvariantCulture);
    }

    private static IEnumerable<string> EnvironmentDirectories(string root)
    {
        var pending = new Stack<string>();
        pending.Push(root);
        while (pending.Count > 0)
        {
            var current = pending.Pop();
            string[] children;
            try
            {
                children = Directory.GetDirectories(current);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                continue;
            }

            Array.Sort(children, StringComparer.Ordinal);
            foreach (var child in children)
            {
                if (Path.GetFileName(child).Contains(EnvironmentPrefix, StringComparison.Ordinal))
                {
                    yield return child;
                }
                else
                {
                    pending.Push(child);
                }
            }
        }
    }

    private static string EnvironmentId(string directoryName) =>
        directoryName[(directoryName.IndexOf(EnvironmentPrefix, StringComparison.Ordinal) + EnvironmentPrefix.Length)..];

    private static EnvironmentConfig ReadEnvironment(string environment, string directory)
    {
        if (environment.Length == 0)
        {
            throw new InvalidDataException($"{Path.GetFileName(directory)}: the directory name has no environment id after 'env-'");
        }

        var keys = new List<string>();
        foreach (var element in ReadArray(directory, AuthConfigFile))
        {
            var hash = element.ValueKind == JsonValueKind.String ? element.GetString()! : "";
            if (!SdkKeyHash.IsHash(hash))
            {
                throw new InvalidDataException($"{AuthConfigFile}: every entry must be the 64-character hex SHA-256 of an SDK key");
            }

            keys.Add(hash.ToLowerInvariant());
        }

        return new EnvironmentConfig(
            environment,
            keys,
            ReadItems(directory, FeatureConfigFile, ConfigItem.FromFlag),
            ReadItems(directory, SegmentsFile, ConfigItem.FromSegment),
            ReadItems(directory, TargetsFile, ConfigItem.FromTarget));
    }

    private static List<ConfigItem> ReadItems(string directory, string file, Func<JsonElement, ConfigItem> parse)
    {
        var items = new List<ConfigItem>();
        var index = 0;
        foreach (var element in ReadArray(directory, file))
        {
            try
            {
                items.Add(parse(element));
            }
            catch (Exception ex) when (ex is JsonException or InvalidDataException or InvalidOperationException)
            {
                throw new InvalidDataException($"{file}: item {index}: {ex.Message}", ex);
            }

            index++;
        }

        return items;
    }

    private static List<JsonElement> ReadArray(string directory, string file)
    {
        var path = Path.Combine(directory, file);
        if (!File.Exists(path))
        {
            return [];
        }

        var bytes = File.ReadAllBytes(path);
        if (bytes.AsSpan().Trim(" \t\r\n"u8).IsEmpty)
        {
            return [];
        }

        try
        {
            using var document = JsonDocument.Parse(bytes, DocumentOptions);
            if (document.RootElement.ValueKind == JsonValueKind.Null)
            {
                return [];
            }

            if (document.RootElement.ValueKind != JsonValueKind.Array)
            {
                throw new InvalidDataException($"{file}: must be a JSON array");
            }

            return [.. document.RootElement.EnumerateArray().Select(e => e.Clone())];
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"{file}: not valid JSON (line {ex.LineNumber + 1}, byte {ex.BytePositionInLine + 1})", ex);
        }
    }
}

namespace FfProxy.Core.Caching;

/// <summary>
/// Redis key and stream names of the Go proxy (spec §4.2), so FfProxy and the Go proxy can share a Redis.
/// </summary>
public static class CacheKeys
{
    public const string StreamHealth = "ffproxy_saas_stream_health";
    public const string SseEventsStream = "proxy:sse_events";
    public const string ControlStream = "proxy:primary_to_replica_control_events";
    public const string SdkMetricsStream = "stream:sdk_metrics";
    public const string AuthKeyPrefix = "auth-key-";

    /// <summary>FfProxy's own key (not the Go proxy's): the id of the last <c>stream:sdk_metrics</c> entry the Primary took in.</summary>
    public const string SdkMetricsPosition = "ffproxy_sdk_metrics_position";

    public static string FeatureConfigs(string env) => $"env-{env}-feature-configs";
    public static string FeatureConfig(string env, string feature) => $"env-{env}-feature-config-{feature}";
    public static string Segments(string env) => $"env-{env}-segments";
    public static string Segment(string env, string identifier) => $"env-{env}-segment-{identifier}";
    public static string ApiConfigs(string env) => $"env-{env}-api-configs";
    public static string TargetConfigs(string env) => $"env-{env}-target-configs";
    public static string TargetConfig(string env, string identifier) => $"env-{env}-target-config-{identifier}";
    public static string AuthKey(string keyHash) => AuthKeyPrefix + keyHash;
    public static string Inventory(string proxyKey) => $"key-{proxyKey}-inventory";

    /// <summary>Prefix shared by every proxy key's inventory (<c>key-{proxyKey}-inventory</c>), for scans.</summary>
    public const string InventoryPrefix = "key-";

    /// <summary>Prefix shared by every environment key (<c>env-{env}-…</c>), for scans.</summary>
    public const string EnvironmentPrefix = "env-";

    /// <summary>Prefix of every single-target key of an environment, for scans.</summary>
    public static string TargetConfigPrefix(string env) => $"env-{env}-target-config";

    /// <summary>Whether <paramref name="key"/> is some proxy key's inventory.</summary>
    public static bool IsInventory(string key) =>
        key.StartsWith(InventoryPrefix, StringComparison.Ordinal) && key.EndsWith(InventorySuffix, StringComparison.Ordinal);

    /// <summary>The environment of an <c>env-{env}-api-configs</c> key, or null for any other key.</summary>
    public static string? EnvironmentOfApiConfigs(string key) =>
        key.StartsWith(EnvironmentPrefix, StringComparison.Ordinal) && key.EndsWith(ApiConfigsSuffix, StringComparison.Ordinal)
            && key.Length > EnvironmentPrefix.Length + ApiConfigsSuffix.Length
            ? key[EnvironmentPrefix.Length..^ApiConfigsSuffix.Length]
            : null;

    /// <summary>The environment named in an <c>env-{env}-…</c> configuration key, or null for other keys.</summary>
    public static string? EnvironmentOf(string key)
    {
        if (!key.StartsWith(EnvironmentPrefix, StringComparison.Ordinal))
        {
            return null;
        }

        ReadOnlySpan<string> markers = ["-feature-configs", "-feature-config-", "-segments", "-segment-", ApiConfigsSuffix, "-target-config"];
        var end = -1;
        foreach (var marker in markers)
        {
            var index = key.IndexOf(marker, EnvironmentPrefix.Length, StringComparison.Ordinal);
            if (index > EnvironmentPrefix.Length && (end < 0 || index < end))
            {
                end = index;
            }
        }

        return end < 0 ? null : key[EnvironmentPrefix.Length..end];
    }

    private const string InventorySuffix = "-inventory";
    private const string ApiConfigsSuffix = "-api-configs";

    /// <summary>Companion of a list key holding the SHA-256 hex of the list JSON (read by Go instances).</summary>
    public static string Latest(string listKey) => listKey + "-latest";
}

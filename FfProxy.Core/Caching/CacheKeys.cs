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

    /// <summary>Companion of a list key holding the SHA-256 hex of the list JSON (read by Go instances).</summary>
    public static string Latest(string listKey) => listKey + "-latest";
}

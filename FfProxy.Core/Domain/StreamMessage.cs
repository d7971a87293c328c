using System.Text.Json.Serialization;

namespace FfProxy.Core.Domain;

/// <summary>
/// A change notification: the payload of SDK SSE events, of <c>proxy:sse_events</c> entries and of the
/// SaaS account stream. Property order is the wire order (event, domain, identifier, version,
/// environment, environments, apiKey); SDKs need <c>version</c> on every event.
/// </summary>
public sealed record StreamMessage
{
    [JsonPropertyName("event")] public string Event { get; init => field = value ?? ""; } = "";
    [JsonPropertyName("domain")] public string Domain { get; init => field = value ?? ""; } = "";
    [JsonPropertyName("identifier")] public string Identifier { get; init => field = value ?? ""; } = "";
    [JsonPropertyName("version")] public long Version { get; init; }
    [JsonPropertyName("environment")] public string Environment { get; init => field = value ?? ""; } = "";

    [JsonPropertyName("environments")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyList<string>? Environments { get; init; }

    [JsonPropertyName("apiKey")] public string ApiKey { get; init => field = value ?? ""; } = "";
}

/// <summary>Event and domain names of <see cref="StreamMessage"/>.</summary>
public static class StreamEvents
{
    public const string Create = "create";
    public const string Patch = "patch";
    public const string Delete = "delete";

    public const string FlagDomain = "flag";
    public const string SegmentDomain = "target-segment";
    public const string ProxyDomain = "proxy";

    public const string EnvironmentsAdded = "environmentsAdded";
    public const string EnvironmentsRemoved = "environmentsRemoved";
    public const string ApiKeyAdded = "apiKeyAdded";
    public const string ApiKeyRemoved = "apiKeyRemoved";
    public const string ProxyKeyDeleted = "proxyKeyDeleted";

    /// <summary>Control-stream event (spec §3.9); its domain is the Primary's stream state.</summary>
    public const string StreamAction = "stream_action";

    /// <summary>The control message telling Replicas the Primary's SaaS stream state.</summary>
    public static StreamMessage StreamStateMessage(string state) => new() { Event = StreamAction, Domain = state };
}

/// <summary>Value of <c>ffproxy_saas_stream_health</c>: the Primary's SaaS stream state, for Replicas starting up.</summary>
public sealed record AccountStreamHealth(
    [property: JsonPropertyName("state")] string State,
    [property: JsonPropertyName("since")] long Since);

/// <summary>An entry of <c>stream:sdk_metrics</c>: metrics a Replica accepted, for the Primary to forward.</summary>
public sealed record SdkMetricsStreamEntry
{
    [JsonPropertyName("environment_id")] public string EnvironmentId { get; init => field = value ?? ""; } = "";
    [JsonPropertyName("metricsData")] public IReadOnlyList<MetricsData>? MetricsData { get; init; }
    [JsonPropertyName("targetData")] public IReadOnlyList<TargetData>? TargetData { get; init; }
}

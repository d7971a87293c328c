using System.Text.Json;
using System.Text.Json.Serialization;

namespace FfProxy.Bench.ScaleSaas;

public sealed record TokenClaims(
    [property: JsonPropertyName("cluster_identifier")] string ClusterIdentifier,
    [property: JsonPropertyName("account")] string Account,
    [property: JsonPropertyName("organization")] string Organization,
    [property: JsonPropertyName("key_type")] string KeyType,
    [property: JsonPropertyName("key")] string Key,
    [property: JsonPropertyName("environments")] IReadOnlyList<string> Environments,
    [property: JsonPropertyName("jti")] string Jti);

public sealed record AuthRequest(string? ProxyKey);

public sealed record AuthResponse(string AuthToken);

public sealed record ItemEvent(string Event, string Domain, string Identifier, long Version, string Environment);

public sealed record ProxyEvent(string Event, string Domain, IReadOnlyList<string> Environments);

public sealed record AccountView(int Flags, int Groups, IReadOnlyList<EnvironmentKeys> Environments);

public sealed record PatchesStarted(long StartedAt, IReadOnlyList<FlagChange> Changes);

public sealed record EnvironmentsAdded(long StartedAt, IReadOnlyList<EnvironmentKeys> Environments);

public sealed record ControlDone(long At);

public sealed record StatsView(
    long Now, int Environments, int OpenStreams, bool Refusing, double CpuSeconds, long EventsSent,
    SortedDictionary<string, long> Requests, SortedDictionary<string, long> LastAt);

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(string))]
[JsonSerializable(typeof(TokenClaims))]
[JsonSerializable(typeof(AuthRequest))]
[JsonSerializable(typeof(AuthResponse))]
[JsonSerializable(typeof(ItemEvent))]
[JsonSerializable(typeof(ProxyEvent))]
[JsonSerializable(typeof(AccountView))]
[JsonSerializable(typeof(PatchesStarted))]
[JsonSerializable(typeof(EnvironmentsAdded))]
[JsonSerializable(typeof(ControlDone))]
[JsonSerializable(typeof(StatsView))]
public sealed partial class ScaleJsonContext : JsonSerializerContext;

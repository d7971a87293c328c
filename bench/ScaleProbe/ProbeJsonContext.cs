using System.Text.Json;
using System.Text.Json.Serialization;

namespace FfProxy.Bench.ScaleProbe;

public sealed record FlagChange(string Environment, string Flag, long Version);

public sealed record EnvironmentKeys(string Id, string ServerKey, string ClientKey);

public sealed record AccountView(int Flags, int Groups, IReadOnlyList<EnvironmentKeys> Environments);

public sealed record PatchesStarted(long StartedAt, IReadOnlyList<FlagChange> Changes);

public sealed record EnvironmentsAdded(long StartedAt, IReadOnlyList<EnvironmentKeys> Environments);

public sealed record ControlDone(long At);

public sealed record StatsView(
    long Now, int Environments, int OpenStreams, bool Refusing, double CpuSeconds, long EventsSent,
    Dictionary<string, long> Requests, Dictionary<string, long> LastAt)
{
    public long Requested(string route) => Requests.GetValueOrDefault(route);
}

public sealed record SdkAuthRequest(string ApiKey);

public sealed record SdkAuthResponse(string AuthToken);

public sealed record HealthView(StateView? ConfigStatus, StateView? StreamStatus);

public sealed record StateView(string? State);

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(AccountView))]
[JsonSerializable(typeof(PatchesStarted))]
[JsonSerializable(typeof(EnvironmentsAdded))]
[JsonSerializable(typeof(ControlDone))]
[JsonSerializable(typeof(StatsView))]
[JsonSerializable(typeof(SdkAuthRequest))]
[JsonSerializable(typeof(SdkAuthResponse))]
[JsonSerializable(typeof(HealthView))]
public sealed partial class ProbeJsonContext : JsonSerializerContext;

using System.Text.Json;
using System.Text.Json.Serialization;

namespace FfProxy.Core.Domain;

/// <summary>Source-generated JSON metadata for every type the proxy reads or writes.</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    AllowTrailingCommas = true,
    ReadCommentHandling = JsonCommentHandling.Skip)]
[JsonSerializable(typeof(FeatureConfig))]
[JsonSerializable(typeof(List<FeatureConfig>))]
[JsonSerializable(typeof(Segment))]
[JsonSerializable(typeof(List<Segment>))]
[JsonSerializable(typeof(Target))]
[JsonSerializable(typeof(List<Target>))]
[JsonSerializable(typeof(StreamMessage))]
[JsonSerializable(typeof(AuthRequest))]
[JsonSerializable(typeof(MetricsRequest))]
[JsonSerializable(typeof(AccountStreamHealth))]
[JsonSerializable(typeof(SdkMetricsStreamEntry))]
[JsonSerializable(typeof(Dictionary<string, long>))]
[JsonSerializable(typeof(List<string>))]
[JsonSerializable(typeof(string))]
[JsonSerializable(typeof(JsonElement))]
public sealed partial class ProxyJsonContext : JsonSerializerContext;

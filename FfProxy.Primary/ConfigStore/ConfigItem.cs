using System.Buffers;
using System.Runtime.InteropServices;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

using FfProxy.Core.Domain;

namespace FfProxy.Primary.ConfigStore;

/// <summary>
/// One flag, target group or target as compact JSON exactly as it will be stored, with the identifier and
/// version read from it. Unknown fields are kept: the proxy passes configuration through as received.
/// </summary>
internal sealed class ConfigItem
{
    private static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private ConfigItem(string identifier, long version, byte[] json, bool validated = true)
    {
        Identifier = identifier;
        Version = version;
        Json = json;
        _validated = validated;
    }

    private readonly bool _validated;

    public string Identifier { get; }
    public long Version { get; }

    /// <summary>Compact UTF-8 JSON of the item; equal bytes mean equal content.</summary>
    public byte[] Json { get; }

    /// <summary>Validates a flag (its fields must have the schema's types) and normalises it.</summary>
    public static ConfigItem FromFlag(JsonElement element)
    {
        RequireObject(element, "flag");
        var flag = element.Deserialize(ProxyJsonContext.Default.FeatureConfig)!;
        if (string.IsNullOrEmpty(flag.Feature))
        {
            throw new InvalidDataException("a flag has no \"feature\" identifier");
        }

        if (ConfigValidation.Problem(flag) is { } problem)
        {
            throw new InvalidDataException(problem);
        }

        return new ConfigItem(flag.Feature, flag.Version ?? 0, Compact(element));
    }

    /// <summary>
    /// Validates a target group and normalises it. Like the Go proxy, a group that has only v2
    /// <c>servingRules</c> also gets legacy <c>rules</c> (the first clause of each serving rule), so SDKs
    /// that do not ask for <c>rules=v2</c> still see rules.
    /// </summary>
    public static ConfigItem FromSegment(JsonElement element)
    {
        RequireObject(element, "target group");
        var segment = element.Deserialize(ProxyJsonContext.Default.Segment)!;
        if (string.IsNullOrEmpty(segment.Identifier))
        {
            throw new InvalidDataException("a target group has no \"identifier\"");
        }

        if (ConfigValidation.Problem(segment) is { } problem)
        {
            throw new InvalidDataException(problem);
        }

        var json = Compact(element);
        if ((segment.Rules is null || segment.Rules.Count == 0) && segment.ServingRules is { Count: > 0 })
        {
            json = WithLegacyRules(json);
        }

        return new ConfigItem(segment.Identifier, segment.Version ?? 0, json);
    }

    public static ConfigItem FromTarget(JsonElement element)
    {
        RequireObject(element, "target");
        var target = element.Deserialize(ProxyJsonContext.Default.Target)!;
        if (string.IsNullOrEmpty(target.Identifier))
        {
            throw new InvalidDataException("a target has no \"identifier\"");
        }

        return new ConfigItem(target.Identifier, 0, Compact(element));
    }

    /// <summary>An item as it is already stored (trusted: written by this proxy).</summary>
    public static ConfigItem Stored(string identifier, long version, byte[] json) => new(identifier, version, json, validated: false);

    /// <summary>
    /// Whether <paramref name="element"/> is byte for byte this item, which was validated and normalised when it came
    /// from SaaS: then it is this item, and a re-sync of an unchanged account costs a comparison per item instead
    /// of a validation and a copy. Items read back from the store are never taken for validated ones.
    /// </summary>
    public bool IsExactly(JsonElement element) => _validated && JsonMarshal.GetRawUtf8Value(element).SequenceEqual(Json);

    /// <summary>The same item with its <c>version</c> field set to <paramref name="version"/>.</summary>
    public ConfigItem WithVersion(long version)
    {
        var node = JsonNode.Parse(Json)!.AsObject();
        node["version"] = version;
        var buffer = new ArrayBufferWriter<byte>(Json.Length + 16);
        using (var writer = new Utf8JsonWriter(buffer, WriterOptions))
        {
            node.WriteTo(writer);
        }

        return new ConfigItem(Identifier, version, buffer.WrittenSpan.ToArray(), _validated);
    }

    private static void RequireObject(JsonElement element, string what)
    {
        if (element.ValueKind != JsonValueKind.Object)
        {
            throw new InvalidDataException($"a {what} must be a JSON object, not {element.ValueKind}");
        }
    }

    private static byte[] Compact(JsonElement element)
    {
        // Sized for the element as received, so the usual compact input is written without growing the buffer.
        var buffer = new ArrayBufferWriter<byte>(Math.Max(256, JsonMarshal.GetRawUtf8Value(element).Length));
        using (var writer = new Utf8JsonWriter(buffer, WriterOptions))
        {
            element.WriteTo(writer);
        }

        return buffer.WrittenSpan.ToArray();
    }

    private static byte[] WithLegacyRules(byte[] json)
    {
        var node = JsonNode.Parse(json)!.AsObject();
        var legacy = new JsonArray();
        foreach (var rule in node["servingRules"]!.AsArray())
        {
            if (rule?["clauses"] is JsonArray { Count: > 0 } clauses)
            {
                legacy.Add(clauses[0]!.DeepClone());
            }
        }

        node["rules"] = legacy;
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer, WriterOptions))
        {
            node.WriteTo(writer);
        }

        return buffer.WrittenSpan.ToArray();
    }
}

using System.Buffers;
using System.Collections.Frozen;
using System.Security.Cryptography;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using FfProxy.Core.Configuration;
using FfProxy.Core.Domain;
using FfProxy.Core.Evaluation;
using Microsoft.Extensions.Logging;

namespace FfProxy.Core.Caching;

/// <summary>
/// Turns stored environment data into an <see cref="EnvironmentSnapshot"/>: response bytes for every
/// variant of every read route, and the parsed model evaluation needs. Runs on change, never per request.
/// </summary>
public sealed partial class SnapshotBuilder(ProxyOptions options, ILogger<SnapshotBuilder> logger, ILogger<EvaluationPlan> planLogger)
{
    private static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public EnvironmentSnapshot Build(StoredEnvironment stored)
    {
        if (!stored.Exists)
        {
            return EnvironmentSnapshot.Empty(stored.Environment);
        }

        var flagNodes = ParseArray(stored.FeatureConfigs, stored.Environment, "feature-configs");
        var flags = new List<FeatureConfig>(flagNodes.Count);
        var flagById = new Dictionary<string, FeatureConfig>(StringComparer.Ordinal);
        var flagBodies = new Dictionary<string, ResponseBody>(StringComparer.Ordinal);
        var servedFlagNodes = new List<JsonNode>(flagNodes.Count);
        foreach (var node in flagNodes)
        {
            // The .NET SDK fails on a null variationToTargetMap; the Go proxy always sends an array.
            if (node["variationToTargetMap"] is null)
            {
                node["variationToTargetMap"] = new JsonArray();
            }

            var flag = Deserialize(node, ProxyJsonContext.Default.FeatureConfig, stored.Environment);
            if (flag is null || string.IsNullOrEmpty(flag.Feature) || flagById.ContainsKey(flag.Feature))
            {
                continue;
            }

            if (ConfigValidation.Problem(flag) is { } flagProblem)
            {
                LogInvalid(logger, stored.Environment, flagProblem);
                continue;
            }

            flag = FlagPreparation.Prepare(flag);
            flags.Add(flag);
            flagById[flag.Feature] = flag;
            flagBodies[flag.Feature] = Body(node);
            servedFlagNodes.Add(node);
        }

        var segmentNodes = ParseArray(stored.Segments, stored.Environment, "segments");
        var legacy = new List<JsonNode>(segmentNodes.Count);
        var v2 = new List<JsonNode>(segmentNodes.Count);
        var legacyById = new Dictionary<string, ResponseBody>(StringComparer.Ordinal);
        var v2ById = new Dictionary<string, ResponseBody>(StringComparer.Ordinal);
        var segmentById = new Dictionary<string, Segment>(StringComparer.Ordinal);
        foreach (var node in segmentNodes)
        {
            var segment = Deserialize(node, ProxyJsonContext.Default.Segment, stored.Environment);
            if (segment is null || string.IsNullOrEmpty(segment.Identifier) || segmentById.ContainsKey(segment.Identifier))
            {
                continue;
            }

            if (ConfigValidation.Problem(segment) is { } segmentProblem)
            {
                LogInvalid(logger, stored.Environment, segmentProblem);
                continue;
            }

            // Spec §2.8: one variant carries only legacy rules, the other only servingRules.
            var withLegacy = node.DeepClone().AsObject();
            withLegacy.Remove("servingRules");
            var withServing = node.DeepClone().AsObject();
            withServing.Remove("rules");
            legacy.Add(withLegacy);
            v2.Add(withServing);
            legacyById[segment.Identifier] = Body(withLegacy);
            v2ById[segment.Identifier] = Body(withServing);

            segment = FlagPreparation.Prepare(options.AndRules ? segment : segment with { ServingRules = null });
            segmentById[segment.Identifier] = segment;
        }

        var segmentsForEvaluation = segmentById.ToFrozenDictionary(StringComparer.Ordinal);
        return new EnvironmentSnapshot(
            stored.Environment,
            exists: true,
            // The list holds exactly the flags served by identifier: what is skipped here is skipped in both.
            Body(new JsonArray([.. servedFlagNodes])),
            flagBodies.ToFrozenDictionary(StringComparer.Ordinal),
            Body(new JsonArray([.. legacy])),
            legacyById.ToFrozenDictionary(StringComparer.Ordinal),
            Body(new JsonArray([.. v2])),
            v2ById.ToFrozenDictionary(StringComparer.Ordinal),
            flags,
            flagById.ToFrozenDictionary(StringComparer.Ordinal),
            segmentsForEvaluation,
            EvaluationPlan.Compile(flags, segmentsForEvaluation, planLogger),
            stored.ApiKeys.ToFrozenSet(StringComparer.Ordinal));
    }

    private List<JsonObject> ParseArray(byte[]? json, string env, string what)
    {
        var result = new List<JsonObject>();
        if (json is null)
        {
            return result;
        }

        try
        {
            if (JsonNode.Parse(json) is JsonArray array)
            {
                foreach (var item in array)
                {
                    if (item is JsonObject obj)
                    {
                        result.Add(obj);
                    }
                }

                // Detach so each object can be re-parented into response arrays.
                array.Clear();
            }
        }
        catch (JsonException ex)
        {
            LogUnreadable(logger, env, what, ex);
        }

        return result;
    }

    private T? Deserialize<T>(JsonNode node, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> typeInfo, string env)
        where T : class
    {
        try
        {
            return node.Deserialize(typeInfo);
        }
        catch (JsonException ex)
        {
            LogUnreadable(logger, env, typeof(T).Name, ex);
            return null;
        }
    }

    /// <summary>Compact JSON plus the single trailing newline the Go encoder writes; ETag from its hash.</summary>
    private static ResponseBody Body(JsonNode node)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer, WriterOptions))
        {
            node.WriteTo(writer);
        }

        buffer.Write("\n"u8);
        var bytes = buffer.WrittenSpan.ToArray();
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(bytes, hash);
        return new ResponseBody(bytes, "\"" + Convert.ToHexStringLower(hash[..16]) + "\"");
    }

    [LoggerMessage(EventId = LogEventIds.Caching.Invalid, Level = LogLevel.Error, Message = "Stored configuration of environment {Environment} skipped: {Problem}")]
    private static partial void LogInvalid(ILogger logger, string environment, string problem);

    [LoggerMessage(EventId = LogEventIds.Caching.Unreadable, Level = LogLevel.Error, Message = "Stored {What} of environment {Environment} is not readable; serving without it")]
    private static partial void LogUnreadable(ILogger logger, string environment, string what, Exception exception);
}

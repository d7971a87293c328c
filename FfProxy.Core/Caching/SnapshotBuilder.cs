using System.Collections.Frozen;
using System.Text.Json;
using FfProxy.Core.Configuration;
using FfProxy.Core.Domain;
using FfProxy.Core.Evaluation;
using Microsoft.Extensions.Logging;

namespace FfProxy.Core.Caching;

/// <summary>
/// Turns stored environment data into an <see cref="EnvironmentSnapshot"/>: response bytes for every variant of every
/// read route, written in one pass over the stored lists without building a DOM, each item body a slice of its list.
/// The parsed model evaluation needs is built from the served bytes when first wanted. Runs on change, never per request.
/// </summary>
public sealed partial class SnapshotBuilder(ProxyOptions options, ILogger<SnapshotBuilder> logger, ILogger<EvaluationPlan> planLogger)
{
    public EnvironmentSnapshot Build(StoredEnvironment stored)
    {
        if (!stored.Exists)
        {
            return EnvironmentSnapshot.Empty(stored.Environment);
        }

        var (featureConfigs, flagById, flagVersions) = BuildFlags(stored);
        var (segments, segmentById, segmentsV2, segmentV2ById, segmentVersions) = BuildSegments(stored);
        return new EnvironmentSnapshot(
            stored.Environment,
            exists: true,
            featureConfigs,
            flagById,
            segments,
            segmentById,
            segmentsV2,
            segmentV2ById,
            flagVersions,
            segmentVersions,
            ParseForEvaluation,
            stored.ApiKeys.ToFrozenSet(StringComparer.Ordinal));
    }

    /// <summary>The list holds exactly the flags served by identifier: what is skipped here is skipped in both.</summary>
    private (ResponseBody, FrozenDictionary<string, ResponseBody>, Dictionary<string, long>) BuildFlags(StoredEnvironment stored)
    {
        var versions = new Dictionary<string, long>(StringComparer.Ordinal);
        var ranges = new List<(string Id, Range Range)>();
        byte[] list;
        using (var writer = new ListBodyWriter((stored.FeatureConfigs?.Length ?? 0) + 64))
        {
            try
            {
                var reader = new Utf8JsonReader(stored.FeatureConfigs ?? "[]"u8.ToArray());
                while (NextItem(ref reader))
                {
                    JsonItemCopier.CopyObject(ref reader, writer.BeginItem(), [], emptyTargetMapForNull: true);
                    if (!FeatureConfigScreen.TryAccept(writer.CurrentItem, out var feature, out var version))
                    {
                        // Not plainly valid: the serializer and the validation decide, and say why.
                        var flag = Deserialize(writer.CurrentItem, ProxyJsonContext.Default.FeatureConfig, stored.Environment);
                        if (flag is null || string.IsNullOrEmpty(flag.Feature) || versions.ContainsKey(flag.Feature))
                        {
                            writer.Discard();
                            continue;
                        }

                        if (ConfigValidation.Problem(flag) is { } problem)
                        {
                            LogInvalid(logger, stored.Environment, problem);
                            writer.Discard();
                            continue;
                        }

                        (feature, version) = (flag.Feature, flag.Version ?? 0);
                    }
                    else if (versions.ContainsKey(feature))
                    {
                        writer.Discard();
                        continue;
                    }

                    versions[feature] = version;
                    ranges.Add((feature, writer.Commit()));
                }
            }
            catch (Exception ex) when (ex is JsonException or ArgumentException or InvalidOperationException)
            {
                // Malformed JSON or text the writer refuses (invalid UTF-8): nothing of the list is served.
                LogUnreadable(logger, stored.Environment, "feature-configs", ex);
                writer.Clear();
                versions.Clear();
                ranges.Clear();
            }

            list = writer.ToArray();
        }

        var byId = ranges.ToFrozenDictionary(r => r.Id, r => new ResponseBody(list.AsMemory(r.Range)), StringComparer.Ordinal);
        return (ResponseBody.FromWire(list), byId, versions);
    }

    /// <summary>Spec §2.8: one variant of each group carries only legacy rules, the other only servingRules.</summary>
    private (ResponseBody, FrozenDictionary<string, ResponseBody>, ResponseBody, FrozenDictionary<string, ResponseBody>, Dictionary<string, long>) BuildSegments(StoredEnvironment stored)
    {
        var versions = new Dictionary<string, long>(StringComparer.Ordinal);
        var ranges = new List<(string Id, Range Legacy, Range V2)>();
        byte[] legacyList, v2List;
        var source = stored.Segments ?? "[]"u8.ToArray();
        using (var legacy = new ListBodyWriter(source.Length + 64))
        using (var v2 = new ListBodyWriter(source.Length + 64))
        {
            try
            {
                var reader = new Utf8JsonReader(source);
                while (NextItem(ref reader))
                {
                    var start = (int)reader.TokenStartIndex;
                    var itemReader = reader;
                    reader.Skip();
                    var raw = source.AsSpan(start, (int)reader.BytesConsumed - start);
                    var segment = Deserialize(raw, ProxyJsonContext.Default.Segment, stored.Environment);
                    if (segment is null || string.IsNullOrEmpty(segment.Identifier) || versions.ContainsKey(segment.Identifier))
                    {
                        continue;
                    }

                    if (ConfigValidation.Problem(segment) is { } problem)
                    {
                        LogInvalid(logger, stored.Environment, problem);
                        continue;
                    }

                    var v2Reader = itemReader;
                    JsonItemCopier.CopyObject(ref itemReader, legacy.BeginItem(), "servingRules"u8, emptyTargetMapForNull: false);
                    JsonItemCopier.CopyObject(ref v2Reader, v2.BeginItem(), "rules"u8, emptyTargetMapForNull: false);
                    versions[segment.Identifier] = segment.Version ?? 0;
                    ranges.Add((segment.Identifier, legacy.Commit(), v2.Commit()));
                }
            }
            catch (Exception ex) when (ex is JsonException or ArgumentException or InvalidOperationException)
            {
                LogUnreadable(logger, stored.Environment, "segments", ex);
                legacy.Clear();
                v2.Clear();
                versions.Clear();
                ranges.Clear();
            }

            legacyList = legacy.ToArray();
            v2List = v2.ToArray();
        }

        return (
            ResponseBody.FromWire(legacyList),
            ranges.ToFrozenDictionary(r => r.Id, r => new ResponseBody(legacyList.AsMemory(r.Legacy)), StringComparer.Ordinal),
            ResponseBody.FromWire(v2List),
            ranges.ToFrozenDictionary(r => r.Id, r => new ResponseBody(v2List.AsMemory(r.V2)), StringComparer.Ordinal),
            versions);
    }

    /// <summary>
    /// Moves <paramref name="reader"/> to the next object element of the stored top-level array (the caller consumes
    /// it); other elements are skipped, and anything but an array holds no items. At the end, text after the array
    /// makes the whole list unreadable, as it would for a parser.
    /// </summary>
    private static bool NextItem(ref Utf8JsonReader reader)
    {
        if (reader.TokenType == JsonTokenType.None && (!reader.Read() || reader.TokenType != JsonTokenType.StartArray))
        {
            return false;
        }

        while (reader.Read())
        {
            if (reader.CurrentDepth == 0)
            {
                while (reader.Read())
                {
                    // Utf8JsonReader throws on anything but whitespace after the top-level value.
                }

                return false;
            }

            if (reader.TokenType == JsonTokenType.StartObject)
            {
                return true;
            }

            reader.Skip();
        }

        return false;
    }

    /// <summary>
    /// The evaluation model of <paramref name="snapshot"/>, parsed from its served bytes: they hold exactly the valid,
    /// unique items, already normalised, so parsing them again gives what the stored data gave.
    /// </summary>
    private EvaluationModel ParseForEvaluation(EnvironmentSnapshot snapshot)
    {
        var flags = JsonSerializer.Deserialize(snapshot.FeatureConfigs.Json.Span, ProxyJsonContext.Default.ListFeatureConfig) ?? [];
        for (var i = 0; i < flags.Count; i++)
        {
            flags[i] = FlagPreparation.Prepare(flags[i]);
        }

        var legacy = JsonSerializer.Deserialize(snapshot.Segments.Json.Span, ProxyJsonContext.Default.ListSegment) ?? [];
        var v2 = options.AndRules ? JsonSerializer.Deserialize(snapshot.SegmentsV2.Json.Span, ProxyJsonContext.Default.ListSegment) ?? [] : null;
        var groups = new Dictionary<string, Segment>(legacy.Count, StringComparer.Ordinal);
        for (var i = 0; i < legacy.Count; i++)
        {
            // The two variants are written in the same order; evaluation sees servingRules only with AND_RULES.
            var group = legacy[i] with { ServingRules = v2?[i].ServingRules };
            groups[group.Identifier] = FlagPreparation.Prepare(group);
        }

        var segmentById = groups.ToFrozenDictionary(StringComparer.Ordinal);
        return new EvaluationModel(
            flags,
            flags.ToFrozenDictionary(f => f.Feature, StringComparer.Ordinal),
            segmentById,
            EvaluationPlan.Compile(flags, segmentById, planLogger));
    }

    private T? Deserialize<T>(ReadOnlySpan<byte> json, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> typeInfo, string env)
        where T : class
    {
        try
        {
            return JsonSerializer.Deserialize(json, typeInfo);
        }
        catch (JsonException ex)
        {
            LogUnreadable(logger, env, typeof(T).Name, ex);
            return null;
        }
    }

    [LoggerMessage(EventId = LogEventIds.Caching.Invalid, Level = LogLevel.Error, Message = "Stored configuration of environment {Environment} skipped: {Problem}")]
    private static partial void LogInvalid(ILogger logger, string environment, string problem);

    [LoggerMessage(EventId = LogEventIds.Caching.Unreadable, Level = LogLevel.Error, Message = "Stored {What} of environment {Environment} is not readable; serving without it")]
    private static partial void LogUnreadable(ILogger logger, string environment, string what, Exception exception);
}

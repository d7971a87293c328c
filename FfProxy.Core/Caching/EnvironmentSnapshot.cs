using System.Collections.Frozen;
using FfProxy.Core.Domain;
using FfProxy.Core.Evaluation;

namespace FfProxy.Core.Caching;

/// <summary>A response body serialised once, with its strong ETag.</summary>
public sealed class ResponseBody(byte[] utf8, string etag)
{
    public static readonly ResponseBody EmptyArray = new("[]\n"u8.ToArray(), "\"empty\"");

    public byte[] Utf8 { get; } = utf8;
    public string ETag { get; } = etag;
}

/// <summary>
/// Everything an SDK request needs from one environment, immutable and pre-serialised: the hot path reads
/// it without touching the store. A change builds a new snapshot and swaps it in atomically.
/// </summary>
public sealed class EnvironmentSnapshot : IFlagSource
{
    public EnvironmentSnapshot(
        string environment,
        bool exists,
        ResponseBody featureConfigs,
        FrozenDictionary<string, ResponseBody> featureConfigById,
        ResponseBody segments,
        FrozenDictionary<string, ResponseBody> segmentById,
        ResponseBody segmentsV2,
        FrozenDictionary<string, ResponseBody> segmentV2ById,
        IReadOnlyList<FeatureConfig> flags,
        FrozenDictionary<string, FeatureConfig> flagById,
        FrozenDictionary<string, Segment> segmentForEvaluationById,
        EvaluationPlan evaluationPlan,
        FrozenSet<string> apiKeys)
    {
        Environment = environment;
        Exists = exists;
        FeatureConfigs = featureConfigs;
        FeatureConfigById = featureConfigById;
        Segments = segments;
        SegmentById = segmentById;
        SegmentsV2 = segmentsV2;
        SegmentV2ById = segmentV2ById;
        Flags = flags;
        FlagById = flagById;
        SegmentForEvaluationById = segmentForEvaluationById;
        EvaluationPlan = evaluationPlan;
        ApiKeys = apiKeys;
    }

    public string Environment { get; }

    /// <summary>False when the store knows nothing of this environment.</summary>
    public bool Exists { get; }

    public ResponseBody FeatureConfigs { get; }
    public FrozenDictionary<string, ResponseBody> FeatureConfigById { get; }

    /// <summary>Groups with legacy <c>rules</c> only.</summary>
    public ResponseBody Segments { get; }
    public FrozenDictionary<string, ResponseBody> SegmentById { get; }

    /// <summary>Groups with <c>servingRules</c> only (AND_RULES=true and <c>rules=v2</c>).</summary>
    public ResponseBody SegmentsV2 { get; }
    public FrozenDictionary<string, ResponseBody> SegmentV2ById { get; }

    /// <summary>Parsed, rule-sorted flags in list order, for evaluation.</summary>
    public IReadOnlyList<FeatureConfig> Flags { get; }
    public FrozenDictionary<string, FeatureConfig> FlagById { get; }

    /// <summary>Groups as evaluation sees them (servingRules stripped unless AND_RULES).</summary>
    public FrozenDictionary<string, Segment> SegmentForEvaluationById { get; }

    /// <summary><see cref="Flags"/> and the groups compiled once, what evaluation requests run.</summary>
    public EvaluationPlan EvaluationPlan { get; }

    /// <summary>Names (<c>auth-key-&lt;hash&gt;</c>) of the SDK keys of this environment.</summary>
    public FrozenSet<string> ApiKeys { get; }

    public static EnvironmentSnapshot Empty(string environment) => new(
        environment, false, ResponseBody.EmptyArray, FrozenDictionary<string, ResponseBody>.Empty,
        ResponseBody.EmptyArray, FrozenDictionary<string, ResponseBody>.Empty,
        ResponseBody.EmptyArray, FrozenDictionary<string, ResponseBody>.Empty,
        [], FrozenDictionary<string, FeatureConfig>.Empty, FrozenDictionary<string, Segment>.Empty,
        EvaluationPlan.Empty, FrozenSet<string>.Empty);

    public FeatureConfig? GetFlag(string identifier) => FlagById.GetValueOrDefault(identifier);

    public Segment? GetSegment(string identifier) => SegmentForEvaluationById.GetValueOrDefault(identifier);
}

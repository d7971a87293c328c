using System.Collections.Frozen;
using System.Security.Cryptography;
using FfProxy.Core.Domain;
using FfProxy.Core.Evaluation;

namespace FfProxy.Core.Caching;

/// <summary>
/// A response body serialised once: compact JSON and the trailing newline the Go encoder writes. An item's body is a
/// slice of its environment's list body, without a newline of its own (the response adds it); a list body keeps its
/// newline, so a large body goes out in one write. The strong ETag is computed on first use.
/// </summary>
public sealed class ResponseBody
{
    public static readonly ResponseBody EmptyArray = new("[]\n"u8.ToArray(), "\"empty\"");

    private string? _etag;

    /// <summary>A body of <paramref name="json"/> followed by a newline the response writes.</summary>
    public ResponseBody(ReadOnlyMemory<byte> json) => Json = json;

    private ResponseBody(byte[] wire, string? etag)
    {
        Wire = wire;
        Json = wire.AsMemory(0, wire.Length - 1);
        _etag = etag;
    }

    /// <summary>A body whose bytes on the wire, newline included, are <paramref name="wire"/>.</summary>
    public static ResponseBody FromWire(byte[] wire) => new(wire, null);

    /// <summary>The JSON, without the newline.</summary>
    public ReadOnlyMemory<byte> Json { get; }

    /// <summary>The bytes on the wire in one piece, when the body has them so (list bodies); null for item slices.</summary>
    public byte[]? Wire { get; }

    /// <summary>Bytes on the wire: the JSON and its newline.</summary>
    public int Length => Json.Length + 1;

    /// <summary>From the SHA-256 of the bytes on the wire; the race of two first readers computes the same value.</summary>
    public string ETag => _etag ??= ComputeETag(Json.Span);

    /// <summary>The bytes on the wire, newline included (tests and captures; responses write <see cref="Json"/> then "\n").</summary>
    public byte[] ToArray()
    {
        var bytes = new byte[Length];
        Json.Span.CopyTo(bytes);
        bytes[^1] = (byte)'\n';
        return bytes;
    }

    private static string ComputeETag(ReadOnlySpan<byte> json)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(json);
        hash.AppendData("\n"u8);
        Span<byte> digest = stackalloc byte[SHA256.HashSizeInBytes];
        hash.GetHashAndReset(digest);
        return "\"" + Convert.ToHexStringLower(digest[..16]) + "\"";
    }
}

/// <summary>
/// Everything an SDK request needs from one environment, immutable and pre-serialised: the hot path reads
/// it without touching the store. A change builds a new snapshot and swaps it in atomically.
/// </summary>
/// <remarks>
/// Only the served bytes are held eagerly (items are slices of the list bodies). The parsed model and the
/// <see cref="EvaluationPlan"/> are built from those bytes when evaluations first need them: server SDKs fetch
/// configurations and evaluate themselves, so most environments of a large account never need a plan.
/// </remarks>
public sealed class EnvironmentSnapshot : IFlagSource
{
    private readonly Lazy<EvaluationModel> _model;

    public EnvironmentSnapshot(
        string environment,
        bool exists,
        ResponseBody featureConfigs,
        FrozenDictionary<string, ResponseBody> featureConfigById,
        ResponseBody segments,
        FrozenDictionary<string, ResponseBody> segmentById,
        ResponseBody segmentsV2,
        FrozenDictionary<string, ResponseBody> segmentV2ById,
        IReadOnlyDictionary<string, long> flagVersions,
        IReadOnlyDictionary<string, long> segmentVersions,
        Func<EnvironmentSnapshot, EvaluationModel> model,
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
        FlagVersions = flagVersions;
        SegmentVersions = segmentVersions;
        _model = new Lazy<EvaluationModel>(() => model(this), LazyThreadSafetyMode.ExecutionAndPublication);
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

    /// <summary>Version of every served flag (0 when it has none), for telling SDK streams what changed.</summary>
    public IReadOnlyDictionary<string, long> FlagVersions { get; }

    /// <summary>Version of every served group (0 when it has none).</summary>
    public IReadOnlyDictionary<string, long> SegmentVersions { get; }

    /// <summary>Parsed, rule-sorted flags in list order, for evaluation.</summary>
    public IReadOnlyList<FeatureConfig> Flags => _model.Value.Flags;

    public FrozenDictionary<string, FeatureConfig> FlagById => _model.Value.FlagById;

    /// <summary>Groups as evaluation sees them (servingRules stripped unless AND_RULES).</summary>
    public FrozenDictionary<string, Segment> SegmentForEvaluationById => _model.Value.SegmentById;

    /// <summary><see cref="Flags"/> and the groups compiled once, what evaluation requests run.</summary>
    public EvaluationPlan EvaluationPlan => _model.Value.Plan;

    /// <summary>True once evaluations have needed this snapshot's plan.</summary>
    public bool HasEvaluationPlan => _model.IsValueCreated;

    /// <summary>Names (<c>auth-key-&lt;hash&gt;</c>) of the SDK keys of this environment.</summary>
    public FrozenSet<string> ApiKeys { get; }

    public static EnvironmentSnapshot Empty(string environment) => new(
        environment, false, ResponseBody.EmptyArray, FrozenDictionary<string, ResponseBody>.Empty,
        ResponseBody.EmptyArray, FrozenDictionary<string, ResponseBody>.Empty,
        ResponseBody.EmptyArray, FrozenDictionary<string, ResponseBody>.Empty,
        FrozenDictionary<string, long>.Empty, FrozenDictionary<string, long>.Empty,
        static _ => EvaluationModel.Empty, FrozenSet<string>.Empty);

    public FeatureConfig? GetFlag(string identifier) => FlagById.GetValueOrDefault(identifier);

    public Segment? GetSegment(string identifier) => SegmentForEvaluationById.GetValueOrDefault(identifier);
}

/// <summary>What evaluation needs of a snapshot: its flags and groups parsed and prepared, and their plan.</summary>
public sealed class EvaluationModel(
    IReadOnlyList<FeatureConfig> flags,
    FrozenDictionary<string, FeatureConfig> flagById,
    FrozenDictionary<string, Segment> segmentById,
    EvaluationPlan plan)
{
    public static readonly EvaluationModel Empty = new(
        [], FrozenDictionary<string, FeatureConfig>.Empty, FrozenDictionary<string, Segment>.Empty, EvaluationPlan.Empty);

    public IReadOnlyList<FeatureConfig> Flags { get; } = flags;
    public FrozenDictionary<string, FeatureConfig> FlagById { get; } = flagById;
    public FrozenDictionary<string, Segment> SegmentById { get; } = segmentById;
    public EvaluationPlan Plan { get; } = plan;
}

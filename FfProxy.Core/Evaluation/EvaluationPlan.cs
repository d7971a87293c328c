using System.Buffers;
using System.Collections.Frozen;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.RegularExpressions;
using FfProxy.Core.Domain;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace FfProxy.Core.Evaluation;

/// <summary>
/// One snapshot's flags and groups compiled for evaluation (spec/evaluation.md, the same semantics as
/// <see cref="Evaluator"/>, which stays the reference): variations, prerequisites and groups resolved to indices,
/// clause operators decoded, regexes compiled once with a timeout, target lists as sets, and every possible
/// evaluation object of every flag pre-encoded. A request resolves each target attribute and each group's
/// decision at most once, and copies fragments: it allocates nothing per flag.
/// </summary>
public sealed class EvaluationPlan
{
    public static readonly EvaluationPlan Empty = Compile([], FrozenDictionary<string, Segment>.Empty);

    private static readonly TimeSpan MatchTimeout = TimeSpan.FromMilliseconds(100);
    private static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private readonly FlagPlan[] _flags;
    private readonly FrozenDictionary<string, int> _flagIndex;
    private readonly GroupPlan[] _groups;
    private readonly string[] _attributes;
    private readonly ILogger _logger;

    private EvaluationPlan(FlagPlan[] flags, FrozenDictionary<string, int> flagIndex, GroupPlan[] groups, string[] attributes, ILogger logger)
    {
        _flags = flags;
        _flagIndex = flagIndex;
        _groups = groups;
        _attributes = attributes;
        _logger = logger;
        var length = 3; // "[", "]", "\n"
        foreach (var flag in flags)
        {
            length += flag.LongestFragment; // its "\n" makes room for the separating comma
        }

        AllResponseLength = length;
    }

    /// <summary>Flags in list order.</summary>
    public int Count => _flags.Length;

    /// <summary>The most bytes <see cref="WriteAll"/> can write.</summary>
    public int AllResponseLength { get; }

    /// <summary>Compiles <paramref name="flags"/> (prepared, unique by feature; the first wins) against <paramref name="groups"/>.</summary>
    public static EvaluationPlan Compile(IReadOnlyList<FeatureConfig> flags, IReadOnlyDictionary<string, Segment> groups, ILogger? logger = null)
    {
        var compiler = new Compiler(flags, groups);
        return new EvaluationPlan(compiler.Flags, compiler.FlagIndex, compiler.Groups, compiler.Attributes, logger ?? NullLogger.Instance);
    }

    public bool TryGetIndex(string feature, out int index) => _flagIndex.TryGetValue(feature, out index);

    public string FeatureAt(int index) => _flags[index].Feature;

    /// <summary>The variation flag <paramref name="index"/> serves <paramref name="target"/>, or why none.</summary>
    public EvaluationResult Evaluate(int index, Target? target)
    {
        using var scope = Scope.Rent(this, target);
        var selected = EvaluateFlag(scope, index);
        var flag = _flags[index];
        return selected >= 0
            ? new EvaluationResult(flag.Variations[selected], null)
            : EvaluationResult.Failed(flag.Failure(selected));
    }

    /// <summary>
    /// The evaluation object of flag <paramref name="index"/> followed by "\n" (the body of
    /// <c>evaluations/{flag}</c>), or empty when the flag selects no existing variation.
    /// </summary>
    public ReadOnlyMemory<byte> EvaluationBody(int index, Target? target)
    {
        using var scope = Scope.Rent(this, target);
        var selected = EvaluateFlag(scope, index);
        return selected >= 0 ? _flags[index].Fragments[selected] : ReadOnlyMemory<byte>.Empty;
    }

    /// <summary>
    /// Writes the body of <c>evaluations</c>: every flag in list order, one that cannot be evaluated with empty
    /// identifier and value (Go proxy), then "\n". <paramref name="destination"/> needs <see cref="AllResponseLength"/> bytes.
    /// </summary>
    public int WriteAll(Target? target, Span<byte> destination)
    {
        using var scope = Scope.Rent(this, target);
        destination[0] = (byte)'[';
        var written = 1;
        for (var i = 0; i < _flags.Length; i++)
        {
            if (i > 0)
            {
                destination[written++] = (byte)',';
            }

            var flag = _flags[i];
            var selected = EvaluateFlag(scope, i);
            var fragment = selected >= 0 ? flag.Fragments[selected] : flag.FailureFragment;
            fragment.AsSpan(0, fragment.Length - 1).CopyTo(destination[written..]);
            written += fragment.Length - 1;
        }

        destination[written++] = (byte)']';
        destination[written++] = (byte)'\n';
        return written;
    }

    /// <summary>§3.1: prerequisites, then the selected variation; a negative result is a failure code.</summary>
    private int EvaluateFlag(Scope scope, int index)
    {
        var flag = _flags[index];
        if (flag.Prerequisites.Length > 0)
        {
            scope.FlagDepth = 0;
            if (!PrerequisitesSatisfied(scope, index))
            {
                return flag.OffVariation;
            }
        }

        return Select(scope, index);
    }

    /// <summary>Memoised per request: selection depends only on the target.</summary>
    private int Select(Scope scope, int index)
    {
        var memo = scope.Selected[index];
        if (memo != Scope.NotComputed)
        {
            return memo;
        }

        var selected = SelectVariation(scope, _flags[index]);
        scope.Selected[index] = selected;
        return selected;
    }

    private int SelectVariation(Scope scope, FlagPlan flag)
    {
        if (!flag.On)
        {
            return flag.OffVariation;
        }

        if (scope.Target is { } target)
        {
            foreach (var map in flag.TargetMaps)
            {
                if (map.Identifiers.Contains(target.Identifier) || (map.Groups.Length > 0 && InAnyGroup(scope, map.Groups)))
                {
                    // The first matching entry decides; an empty variation there falls through to the rules.
                    if (map.Variation != FlagPlan.NoVariation)
                    {
                        return map.Variation;
                    }

                    break;
                }
            }

            foreach (var rule in flag.Rules)
            {
                if (!AllClausesMatch(scope, rule.Clauses))
                {
                    continue;
                }

                if (rule.Distribution is { } distribution)
                {
                    var distributed = Distribute(scope, distribution);
                    if (distributed != FlagPlan.NoVariation)
                    {
                        return distributed;
                    }

                    break;
                }

                if (rule.HasVariation)
                {
                    if (rule.Variation != FlagPlan.NoVariation)
                    {
                        return rule.Variation;
                    }

                    break;
                }

                Evaluator.LogRuleWithoutServe(_logger, rule.RuleId);
            }
        }

        if (flag.DefaultDistribution is { } fallback)
        {
            var distributed = Distribute(scope, fallback);
            if (distributed != FlagPlan.NoVariation)
            {
                return distributed;
            }
        }

        return flag.DefaultVariation;
    }

    /// <summary>§8, as <see cref="Evaluator"/>: a missing or unevaluable prerequisite ends the check as satisfied.</summary>
    private bool PrerequisitesSatisfied(Scope scope, int index)
    {
        var flag = _flags[index];
        if (scope.FlagDepth >= Evaluator.MaxDepth)
        {
            Evaluator.LogTooDeep(_logger, flag.Feature);
            return false;
        }

        scope.FlagPath[scope.FlagDepth++] = index;
        try
        {
            foreach (var prerequisite in flag.Prerequisites)
            {
                var parentIndex = prerequisite.Flag;
                if (parentIndex < 0)
                {
                    return true;
                }

                var parent = _flags[parentIndex];
                if (scope.FlagPath.AsSpan(0, scope.FlagDepth).Contains(parentIndex))
                {
                    Evaluator.LogCycle(_logger, flag.Feature, parent.Feature);
                    return false;
                }

                var selected = Select(scope, parentIndex);
                if (selected < 0)
                {
                    return true;
                }

                if (!prerequisite.Allowed[selected])
                {
                    return false;
                }

                if (parent.Prerequisites.Length > 0 && !PrerequisitesSatisfied(scope, parentIndex))
                {
                    return false;
                }
            }

            return true;
        }
        finally
        {
            scope.FlagDepth--;
        }
    }

    private bool AllClausesMatch(Scope scope, ClausePlan[] clauses)
    {
        foreach (var clause in clauses)
        {
            if (!ClauseMatches(scope, clause))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>§5.3; <c>negate</c> is ignored, as by every SDK.</summary>
    private bool ClauseMatches(Scope scope, ClausePlan clause)
    {
        if (clause.Op == ClauseOp.Never)
        {
            return false;
        }

        if (clause.Op == ClauseOp.SegmentMatch)
        {
            return InAnyGroup(scope, clause.Groups);
        }

        var actual = scope.Attribute(clause.Attribute);
        if (actual.Length == 0)
        {
            return false;
        }

        switch (clause.Op)
        {
            case ClauseOp.Equal:
                return string.Equals(actual, clause.Expected, StringComparison.OrdinalIgnoreCase);
            case ClauseOp.EqualSensitive:
                return string.Equals(actual, clause.Expected, StringComparison.Ordinal);
            case ClauseOp.In:
                return clause.Values.Contains(actual);
            case ClauseOp.StartsWith:
                return actual.StartsWith(clause.Expected, StringComparison.Ordinal);
            case ClauseOp.EndsWith:
                return actual.EndsWith(clause.Expected, StringComparison.Ordinal);
            case ClauseOp.Contains:
                return actual.Contains(clause.Expected, StringComparison.Ordinal);
            case ClauseOp.GreaterThan:
                return string.CompareOrdinal(actual, clause.Expected) > 0;
            case ClauseOp.Match:
                return Matches(clause, actual);
            default:
                return false;
        }
    }

    private bool Matches(ClausePlan clause, string actual)
    {
        if (clause.Regex is null)
        {
            return false; // an invalid pattern never matches
        }

        try
        {
            return clause.Regex.IsMatch(actual);
        }
        catch (RegexMatchTimeoutException)
        {
            Evaluator.LogRegexTimeout(_logger, clause.Expected);
            return false;
        }
    }

    /// <summary>§6.1: groups in list order, the first decision wins (see <see cref="Evaluator"/>).</summary>
    private bool InAnyGroup(Scope scope, int[] groups)
    {
        foreach (var index in groups)
        {
            if (index < 0)
            {
                continue; // unknown: decides nothing
            }

            var decision = Decide(scope, index);
            if (decision == GroupDecision.Excluded)
            {
                return false;
            }

            if (decision == GroupDecision.Member)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// One group's decision. At the top of a look-up it depends only on the target and is memoised per request;
    /// nested inside another group's rules it is computed afresh, because a cycle there fails the whole list.
    /// </summary>
    private GroupDecision Decide(Scope scope, int index)
    {
        var topLevel = scope.GroupDepth == 0;
        if (topLevel && scope.Groups[index] != GroupDecision.Unknown)
        {
            return scope.Groups[index];
        }

        var group = _groups[index];
        var target = scope.Target!;
        GroupDecision decision;
        if (group.Excluded.Contains(target.Identifier))
        {
            decision = GroupDecision.Excluded;
        }
        else if (group.Included.Contains(target.Identifier))
        {
            decision = GroupDecision.Member;
        }
        else if (scope.GroupPath.AsSpan(0, scope.GroupDepth).Contains(index) || scope.GroupDepth >= Evaluator.MaxDepth)
        {
            // Nested segmentMatch that loops back: fail closed instead of recursing forever.
            Evaluator.LogGroupCycle(_logger, group.Identifier);
            decision = GroupDecision.Excluded;
        }
        else
        {
            scope.GroupPath[scope.GroupDepth++] = index;
            try
            {
                decision = RulesAdmit(scope, group) ? GroupDecision.Member : GroupDecision.Undecided;
            }
            finally
            {
                scope.GroupDepth--;
            }
        }

        if (topLevel)
        {
            scope.Groups[index] = decision;
        }

        return decision;
    }

    /// <summary>v2 serving rules (clauses AND-ed) replace legacy rules (single clauses, OR-ed) when present.</summary>
    private bool RulesAdmit(Scope scope, GroupPlan group)
    {
        if (group.ServingRules is { } servingRules)
        {
            foreach (var clauses in servingRules)
            {
                if (AllClausesMatch(scope, clauses))
                {
                    return true;
                }
            }

            return false;
        }

        foreach (var clause in group.Rules)
        {
            if (ClauseMatches(scope, clause))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>§7.3: cumulative weights against the target's bucket; the last variation when none is reached.</summary>
    private static int Distribute(Scope scope, DistributionPlan distribution)
    {
        if (distribution.Variations.Length == 0)
        {
            return FlagPlan.NoVariation;
        }

        var bucket = scope.Bucket(distribution.BucketBy);
        var cumulative = 0;
        for (var i = 0; i < distribution.Weights.Length; i++)
        {
            cumulative += distribution.Weights[i];
            if (cumulative > 0 && bucket > 0 && bucket <= cumulative)
            {
                return distribution.Variations[i];
            }
        }

        return distribution.Variations[^1];
    }

    private enum GroupDecision : byte
    {
        Unknown,
        Excluded,
        Member,
        Undecided,
    }

    private enum ClauseOp : byte
    {
        Never,
        SegmentMatch,
        Equal,
        EqualSensitive,
        In,
        StartsWith,
        EndsWith,
        Contains,
        GreaterThan,
        Match,
    }

    private sealed class FlagPlan
    {
        /// <summary>An empty or missing variation identifier; other negative values name unknown ones.</summary>
        public const int NoVariation = -1;

        public required string Feature { get; init; }
        public required bool On { get; init; }
        public required Variation[] Variations { get; init; }

        /// <summary>Per variation: its evaluation object then "\n".</summary>
        public required byte[][] Fragments { get; init; }

        /// <summary>The evaluation object with empty identifier and value, then "\n".</summary>
        public required byte[] FailureFragment { get; init; }

        public required string[] UnknownVariations { get; init; }
        public required int OffVariation { get; init; }
        public required int DefaultVariation { get; init; }
        public required DistributionPlan? DefaultDistribution { get; init; }
        public required TargetMapPlan[] TargetMaps { get; init; }
        public required RulePlan[] Rules { get; init; }
        public PrerequisitePlan[] Prerequisites { get; set; } = [];

        public int LongestFragment => Math.Max(FailureFragment.Length, Fragments.Length == 0 ? 0 : Fragments.Max(f => f.Length));

        public string Failure(int selected) => selected == NoVariation
            ? $"flag '{Feature}' selected no variation"
            : $"variation '{UnknownVariations[-selected - 2]}' of flag '{Feature}' does not exist";
    }

    private sealed record TargetMapPlan(FrozenSet<string> Identifiers, int[] Groups, int Variation);

    private sealed record RulePlan(string RuleId, ClausePlan[] Clauses, DistributionPlan? Distribution, bool HasVariation, int Variation);

    private sealed record DistributionPlan(int BucketBy, int[] Weights, int[] Variations);

    private sealed record PrerequisitePlan(int Flag, bool[] Allowed);

    private sealed record ClausePlan(ClauseOp Op, int Attribute, string Expected, FrozenSet<string> Values, int[] Groups, Regex? Regex);

    private sealed record GroupPlan(string Identifier, FrozenSet<string> Included, FrozenSet<string> Excluded, ClausePlan[][]? ServingRules, ClausePlan[] Rules);

    /// <summary>
    /// Per-request state, one per thread and reused (evaluation never awaits): attribute texts and buckets,
    /// group decisions and flag selections, each computed at most once, and the cycle paths.
    /// </summary>
    private sealed class Scope : IDisposable
    {
        public const int NotComputed = int.MinValue;

        [ThreadStatic]
        private static Scope? _current;

        private EvaluationPlan _plan = null!;
        private string?[] _attributes = [];
        private int[] _buckets = [];

        public Target? Target { get; private set; }
        public int[] Selected { get; private set; } = [];
        public GroupDecision[] Groups { get; private set; } = [];
        public int[] FlagPath { get; } = new int[Evaluator.MaxDepth];
        public int[] GroupPath { get; } = new int[Evaluator.MaxDepth];
        public int FlagDepth { get; set; }
        public int GroupDepth { get; set; }

        public static Scope Rent(EvaluationPlan plan, Target? target)
        {
            var scope = _current ??= new Scope();
            scope.Reset(plan, target);
            return scope;
        }

        /// <summary>Lets go of the target and the plan, so a thread does not keep an old snapshot alive.</summary>
        public void Dispose()
        {
            Target = null;
            _plan = null!;
        }

        /// <summary>The attribute's text as clauses compare it (spec §5.2), "" when missing.</summary>
        public string Attribute(int index)
        {
            var value = _attributes[index];
            if (value is null)
            {
                value = AttributeValues.Get(Target, _plan._attributes[index]);
                _attributes[index] = value;
            }

            return value;
        }

        /// <summary>Bucket 1..100 by the attribute, else by identifier; 0 when there is nothing to hash.</summary>
        public int Bucket(int attribute)
        {
            var bucket = _buckets[attribute];
            if (bucket >= 0)
            {
                return bucket;
            }

            if (Target is null)
            {
                bucket = 0;
            }
            else
            {
                var value = Attribute(attribute);
                bucket = value.Length > 0
                    ? Murmur3.Bucket(_plan._attributes[attribute], value)
                    : Target.Identifier.Length == 0 ? 0 : Murmur3.Bucket("identifier", Target.Identifier);
            }

            _buckets[attribute] = bucket;
            return bucket;
        }

        private void Reset(EvaluationPlan plan, Target? target)
        {
            _plan = plan;
            Target = target;
            FlagDepth = 0;
            GroupDepth = 0;
            _attributes = Fit(_attributes, plan._attributes.Length);
            Array.Clear(_attributes, 0, plan._attributes.Length);
            _buckets = Fit(_buckets, plan._attributes.Length);
            Array.Fill(_buckets, -1, 0, plan._attributes.Length);
            Selected = Fit(Selected, plan._flags.Length);
            Array.Fill(Selected, NotComputed, 0, plan._flags.Length);
            Groups = Fit(Groups, plan._groups.Length);
            Array.Clear(Groups, 0, plan._groups.Length);
        }

        private static T[] Fit<T>(T[] array, int length) => array.Length >= length ? array : new T[Math.Max(length, array.Length * 2)];
    }

    /// <summary>Resolves names to indices once; runs when a snapshot is built.</summary>
    private sealed class Compiler
    {
        private readonly Dictionary<string, int> _attributeIndex = new(StringComparer.Ordinal);
        private readonly List<string> _attributes = [];
        private readonly Dictionary<string, int> _groupIndex = new(StringComparer.Ordinal);
        private readonly Dictionary<string, Regex?> _patterns = new(StringComparer.Ordinal);

        public Compiler(IReadOnlyList<FeatureConfig> flags, IReadOnlyDictionary<string, Segment> groups)
        {
            var sources = new List<Segment>(groups.Count);
            foreach (var group in groups.Values)
            {
                _groupIndex[group.Identifier] = sources.Count;
                sources.Add(group);
            }

            Groups = [.. sources.Select(CompileGroup)];

            var unique = new List<FeatureConfig>(flags.Count);
            var flagIndex = new Dictionary<string, int>(StringComparer.Ordinal);
            foreach (var flag in flags)
            {
                if (flagIndex.TryAdd(flag.Feature, unique.Count))
                {
                    unique.Add(flag);
                }
            }

            FlagIndex = flagIndex.ToFrozenDictionary(StringComparer.Ordinal);
            Flags = [.. unique.Select(CompileFlag)];
            for (var i = 0; i < unique.Count; i++)
            {
                Flags[i].Prerequisites = [.. (unique[i].Prerequisites ?? []).Select(CompilePrerequisite)];
            }

            Attributes = [.. _attributes];
        }

        public FlagPlan[] Flags { get; }
        public FrozenDictionary<string, int> FlagIndex { get; }
        public GroupPlan[] Groups { get; }
        public string[] Attributes { get; }

        private FlagPlan CompileFlag(FeatureConfig flag)
        {
            var variations = flag.Variations?.ToArray() ?? [];
            var unknown = new List<string>();
            int Ref(string? identifier)
            {
                if (string.IsNullOrEmpty(identifier))
                {
                    return FlagPlan.NoVariation;
                }

                for (var i = 0; i < variations.Length; i++)
                {
                    if (string.Equals(variations[i].Identifier, identifier, StringComparison.Ordinal))
                    {
                        return i;
                    }
                }

                var known = unknown.IndexOf(identifier);
                if (known < 0)
                {
                    known = unknown.Count;
                    unknown.Add(identifier);
                }

                return -known - 2;
            }

            DistributionPlan? Distribution(Distribution? distribution) =>
                distribution?.Variations is { Count: > 0 } weighted
                    ? new DistributionPlan(AttributeIndex(distribution.BucketBy), [.. weighted.Select(w => w.Weight)], [.. weighted.Select(w => Ref(w.Variation))])
                    : null;

            var rules = new List<RulePlan>();
            foreach (var rule in flag.Rules ?? [])
            {
                var clauses = CompileClauses(rule.Clauses);
                if (rule.Serve?.Distribution is { } distribution)
                {
                    // A distribution wins over a variation and ends rule matching even when it yields nothing.
                    var compiled = Distribution(distribution) ?? new DistributionPlan(0, [], []);
                    rules.Add(new RulePlan(rule.RuleId ?? "", clauses, compiled, false, FlagPlan.NoVariation));
                }
                else
                {
                    var variation = rule.Serve?.Variation;
                    rules.Add(new RulePlan(rule.RuleId ?? "", clauses, null, variation is not null, Ref(variation)));
                }
            }

            var maps = (flag.VariationToTargetMap ?? []).Select(map => new TargetMapPlan(
                (map.Targets ?? []).Where(t => t.Identifier.Length > 0).Select(t => t.Identifier).ToFrozenSet(StringComparer.Ordinal),
                GroupRefs(map.TargetSegments),
                Ref(map.Variation))).ToArray();

            var plan = new FlagPlan
            {
                Feature = flag.Feature,
                On = string.Equals(flag.State, "on", StringComparison.Ordinal),
                Variations = variations,
                Fragments = [.. variations.Select(v => Fragment(flag, v.Identifier, v.Value))],
                FailureFragment = Fragment(flag, "", ""),
                OffVariation = Ref(flag.OffVariation),
                DefaultVariation = Ref(flag.DefaultServe?.Variation),
                DefaultDistribution = Distribution(flag.DefaultServe?.Distribution),
                TargetMaps = maps,
                Rules = [.. rules],
                UnknownVariations = [.. unknown],
            };
            return plan;
        }

        private PrerequisitePlan CompilePrerequisite(Prerequisite prerequisite)
        {
            if (!FlagIndex.TryGetValue(prerequisite.Feature, out var index))
            {
                return new PrerequisitePlan(-1, []);
            }

            var allowed = prerequisite.Variations ?? [];
            return new PrerequisitePlan(index, [.. Flags[index].Variations.Select(v => allowed.Contains(v.Identifier, StringComparer.Ordinal))]);
        }

        private GroupPlan CompileGroup(Segment group)
        {
            static FrozenSet<string> Identifiers(IReadOnlyList<Target>? targets) =>
                (targets ?? []).Select(t => t.Identifier).ToFrozenSet(StringComparer.Ordinal);

            ClausePlan[][]? servingRules = group.ServingRules is { Count: > 0 } rules
                ? [.. rules.Where(r => r.Clauses is { Count: > 0 }).Select(r => CompileClauses(r.Clauses))]
                : null;
            return new GroupPlan(group.Identifier, Identifiers(group.Included), Identifiers(group.Excluded), servingRules, CompileClauses(group.Rules));
        }

        private ClausePlan[] CompileClauses(IReadOnlyList<Clause?>? clauses) => [.. (clauses ?? []).Select(CompileClause)];

        private ClausePlan CompileClause(Clause? clause)
        {
            if (clause is null || string.IsNullOrEmpty(clause.Op) || clause.Values is not { Count: > 0 } values)
            {
                return new ClausePlan(ClauseOp.Never, 0, "", FrozenSet<string>.Empty, [], null);
            }

            var op = clause.Op switch
            {
                "segmentMatch" => ClauseOp.SegmentMatch,
                "equal" => ClauseOp.Equal,
                "equal_sensitive" => ClauseOp.EqualSensitive,
                "in" => ClauseOp.In,
                "starts_with" => ClauseOp.StartsWith,
                "ends_with" => ClauseOp.EndsWith,
                "contains" => ClauseOp.Contains,
                "gt" => ClauseOp.GreaterThan,
                "match" => ClauseOp.Match,
                _ => ClauseOp.Never,
            };
            if (op == ClauseOp.SegmentMatch)
            {
                return new ClausePlan(op, 0, "", FrozenSet<string>.Empty, GroupRefs(values), null);
            }

            var expected = values[0] ?? "";
            return new ClausePlan(
                op,
                AttributeIndex(clause.Attribute),
                expected,
                op == ClauseOp.In ? values.OfType<string>().ToFrozenSet(StringComparer.Ordinal) : FrozenSet<string>.Empty,
                [],
                op == ClauseOp.Match ? Pattern(expected) : null);
        }

        private int[] GroupRefs(IReadOnlyList<string>? identifiers) =>
            [.. (identifiers ?? []).Select(id => id is not null && _groupIndex.TryGetValue(id, out var index) ? index : -1)];

        private int AttributeIndex(string attribute)
        {
            if (!_attributeIndex.TryGetValue(attribute, out var index))
            {
                index = _attributes.Count;
                _attributeIndex[attribute] = index;
                _attributes.Add(attribute);
            }

            return index;
        }

        private Regex? Pattern(string pattern)
        {
            if (!_patterns.TryGetValue(pattern, out var regex))
            {
                try
                {
                    regex = new Regex(pattern, RegexOptions.CultureInvariant, MatchTimeout);
                }
                catch (ArgumentException)
                {
                    regex = null;
                }

                _patterns[pattern] = regex;
            }

            return regex;
        }

        /// <summary>The evaluation object exactly as the response writer would encode it, then "\n".</summary>
        private static byte[] Fragment(FeatureConfig flag, string identifier, string value)
        {
            var buffer = new ArrayBufferWriter<byte>(128);
            using (var writer = new Utf8JsonWriter(buffer, WriterOptions))
            {
                writer.WriteStartObject();
                writer.WriteString("flag", flag.Feature);
                writer.WriteString("identifier", identifier);
                writer.WriteString("kind", flag.Kind);

                // json values are sent as the variation's string, not encoded a second time (spec §2.9 quirk).
                writer.WriteString("value", value);
                writer.WriteEndObject();
            }

            buffer.Write("\n"u8);
            return buffer.WrittenSpan.ToArray();
        }
    }
}

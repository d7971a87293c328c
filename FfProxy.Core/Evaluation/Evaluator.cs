using System.Collections.Concurrent;
using System.Text.RegularExpressions;
using FfProxy.Core.Domain;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace FfProxy.Core.Evaluation;

/// <summary>The variation a flag serves a target, or why there is none (the caller then uses its default).</summary>
public readonly record struct EvaluationResult(Variation? Variation, string? Error)
{
    public static EvaluationResult Failed(string error) => new(null, error);
}

/// <summary>
/// Harness flag evaluation with the Go server SDK's semantics (v0.1.24, which the Go relay proxy embeds), as
/// specified in spec/evaluation.md. Pure and thread-safe; input flags are prepared (rules sorted) once.
/// </summary>
internal sealed partial class Evaluator(ILogger<Evaluator>? logger = null)
{
    /// <summary>Deepest prerequisite chain or group nesting followed before failing closed.</summary>
    public const int MaxDepth = 64;

    private const int MaxCachedPatterns = 1024;
    private static readonly TimeSpan MatchTimeout = TimeSpan.FromMilliseconds(100);

    private readonly ILogger _logger = logger ?? NullLogger<Evaluator>.Instance;
    private readonly ConcurrentDictionary<string, Regex?> _patterns = new(StringComparer.Ordinal);

    public EvaluationResult Evaluate(FeatureConfig flag, Target? target, IFlagSource source)
    {
        if (flag.Prerequisites is { Count: > 0 } && !PrerequisitesSatisfied(flag, target, source, []))
        {
            return Resolve(flag, flag.OffVariation);
        }

        return Resolve(flag, SelectVariation(flag, target, source));
    }

    /// <summary>§3.1 step 4: state, individual targeting, rules, default distribution, default variation.</summary>
    private string? SelectVariation(FeatureConfig flag, Target? target, IFlagSource source)
    {
        if (!string.Equals(flag.State, "on", StringComparison.Ordinal))
        {
            return flag.OffVariation;
        }

        if (target is not null)
        {
            var fromMap = VariationMapMatch(flag.VariationToTargetMap, target, source);
            if (!string.IsNullOrEmpty(fromMap))
            {
                return fromMap;
            }

            var fromRules = RulesMatch(flag.Rules, target, source);
            if (!string.IsNullOrEmpty(fromRules))
            {
                return fromRules;
            }
        }

        var distributed = Distribute(flag.DefaultServe?.Distribution, target);
        return !string.IsNullOrEmpty(distributed) ? distributed : flag.DefaultServe?.Variation;
    }

    private static EvaluationResult Resolve(FeatureConfig flag, string? identifier)
    {
        if (string.IsNullOrEmpty(identifier))
        {
            return EvaluationResult.Failed($"flag '{flag.Feature}' selected no variation");
        }

        if (flag.Variations is not null)
        {
            foreach (var variation in flag.Variations)
            {
                if (string.Equals(variation.Identifier, identifier, StringComparison.Ordinal))
                {
                    return new EvaluationResult(variation, null);
                }
            }
        }

        return EvaluationResult.Failed($"variation '{identifier}' of flag '{flag.Feature}' does not exist");
    }

    /// <summary>
    /// §8: each prerequisite flag must select one of the allowed variation identifiers for this target,
    /// recursively. A missing prerequisite (or one that cannot be evaluated) ends the check as satisfied,
    /// as every SDK does; a cycle or an over-deep chain fails closed.
    /// </summary>
    private bool PrerequisitesSatisfied(FeatureConfig flag, Target? target, IFlagSource source, List<string> path)
    {
        if (path.Count >= MaxDepth)
        {
            LogTooDeep(_logger, flag.Feature);
            return false;
        }

        path.Add(flag.Feature);
        try
        {
            foreach (var prerequisite in flag.Prerequisites!)
            {
                var parent = source.GetFlag(prerequisite.Feature);
                if (parent is null)
                {
                    return true;
                }

                if (path.Contains(parent.Feature))
                {
                    LogCycle(_logger, flag.Feature, parent.Feature);
                    return false;
                }

                var selected = Resolve(parent, SelectVariation(parent, target, source));
                if (selected.Variation is null)
                {
                    return true;
                }

                if (!Contains(prerequisite.Variations, selected.Variation.Identifier))
                {
                    return false;
                }

                if (parent.Prerequisites is { Count: > 0 } && !PrerequisitesSatisfied(parent, target, source, path))
                {
                    return false;
                }
            }

            return true;
        }
        finally
        {
            path.RemoveAt(path.Count - 1);
        }
    }

    /// <summary>§4: entries in order; a listed identifier or membership of a listed group selects the entry.</summary>
    private string? VariationMapMatch(IReadOnlyList<VariationMap>? maps, Target target, IFlagSource source)
    {
        if (maps is null)
        {
            return null;
        }

        foreach (var map in maps)
        {
            if (map.Targets is not null)
            {
                foreach (var listed in map.Targets)
                {
                    if (listed.Identifier.Length > 0 && string.Equals(listed.Identifier, target.Identifier, StringComparison.Ordinal))
                    {
                        return map.Variation;
                    }
                }
            }

            if (map.TargetSegments is not null && InAnyGroup(map.TargetSegments, target, source, null))
            {
                return map.Variation;
            }
        }

        return null;
    }

    /// <summary>§5.1: the first rule whose clauses all match (none = match) serves.</summary>
    private string? RulesMatch(IReadOnlyList<ServingRule>? rules, Target target, IFlagSource source)
    {
        if (rules is null)
        {
            return null;
        }

        foreach (var rule in rules)
        {
            if (!AllClausesMatch(rule.Clauses, target, source, null))
            {
                continue;
            }

            // A distribution wins over a variation, and ends rule matching even when it yields nothing.
            if (rule.Serve?.Distribution is { } distribution)
            {
                return Distribute(distribution, target);
            }

            if (rule.Serve?.Variation is { } variation)
            {
                return variation;
            }

            LogRuleWithoutServe(_logger, rule.RuleId ?? "");
        }

        return null;
    }

    private bool AllClausesMatch(IReadOnlyList<Clause>? clauses, Target target, IFlagSource source, List<string>? groupPath)
    {
        if (clauses is null)
        {
            return true;
        }

        foreach (var clause in clauses)
        {
            if (!ClauseMatches(clause, target, source, groupPath))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>§5.3. <c>negate</c> is read by every SDK and applied by none, so it is ignored here too.</summary>
    private bool ClauseMatches(Clause? clause, Target target, IFlagSource source, List<string>? groupPath)
    {
        if (clause is null || string.IsNullOrEmpty(clause.Op) || clause.Values is not { Count: > 0 } values)
        {
            return false;
        }

        if (string.Equals(clause.Op, "segmentMatch", StringComparison.Ordinal))
        {
            return InAnyGroup(values, target, source, groupPath);
        }

        var actual = AttributeValues.Get(target, clause.Attribute);
        if (actual.Length == 0)
        {
            return false;
        }

        var expected = values[0] ?? "";
        switch (clause.Op)
        {
            case "equal":
                return string.Equals(actual, expected, StringComparison.OrdinalIgnoreCase);
            case "equal_sensitive":
                return string.Equals(actual, expected, StringComparison.Ordinal);
            case "in":
                return Contains(values, actual);
            case "starts_with":
                return actual.StartsWith(expected, StringComparison.Ordinal);
            case "ends_with":
                return actual.EndsWith(expected, StringComparison.Ordinal);
            case "contains":
                return actual.Contains(expected, StringComparison.Ordinal);
            case "gt":
                return string.CompareOrdinal(actual, expected) > 0;
            case "match":
                return Matches(expected, actual);
            default:
                return false;
        }
    }

    /// <summary>
    /// §6.1: groups in list order, first decision wins. Exclusion ends the whole list with false; inclusion, then
    /// v2 serving rules (which replace legacy rules when present), then legacy rules. An unknown group decides
    /// nothing and the next one is asked: the Go proxy's store answers an empty group for a missing one, so that is
    /// what SDKs behind it see.
    /// </summary>
    private bool InAnyGroup(IReadOnlyList<string> groupIds, Target target, IFlagSource source, List<string>? path)
    {
        foreach (var id in groupIds)
        {
            var group = source.GetSegment(id);
            if (group is null)
            {
                continue;
            }

            if (ListsTarget(group.Excluded, target))
            {
                return false;
            }

            if (ListsTarget(group.Included, target))
            {
                return true;
            }

            path ??= [];
            if (path.Contains(id) || path.Count >= MaxDepth)
            {
                // Nested segmentMatch that loops back: fail closed instead of recursing forever.
                LogGroupCycle(_logger, id);
                return false;
            }

            path.Add(id);
            try
            {
                if (group.ServingRules is { Count: > 0 } servingRules)
                {
                    foreach (var rule in servingRules)
                    {
                        if (rule.Clauses is { Count: > 0 } && AllClausesMatch(rule.Clauses, target, source, path))
                        {
                            return true;
                        }
                    }

                    continue;
                }

                if (group.Rules is not null)
                {
                    foreach (var clause in group.Rules)
                    {
                        if (ClauseMatches(clause, target, source, path))
                        {
                            return true;
                        }
                    }
                }
            }
            finally
            {
                path.RemoveAt(path.Count - 1);
            }
        }

        return false;
    }

    /// <summary>§7.3: cumulative weights against the target's bucket; the last variation when none is reached.</summary>
    private static string? Distribute(Distribution? distribution, Target? target)
    {
        if (distribution?.Variations is not { Count: > 0 } weighted)
        {
            return null;
        }

        var bucket = BucketOf(distribution.BucketBy, target);
        string? chosen = null;
        var cumulative = 0;
        foreach (var variation in weighted)
        {
            chosen = variation.Variation;
            cumulative += variation.Weight;
            if (cumulative > 0 && bucket > 0 && bucket <= cumulative)
            {
                return variation.Variation;
            }
        }

        return chosen;
    }

    /// <summary>Bucket 1..100, or 0 when the target has no value to hash (then no threshold is met).</summary>
    private static int BucketOf(string bucketBy, Target? target)
    {
        if (target is null)
        {
            return 0;
        }

        var value = AttributeValues.Get(target, bucketBy);
        if (value.Length == 0)
        {
            bucketBy = "identifier";
            value = target.Identifier;
        }

        return value.Length == 0 ? 0 : Murmur3.Bucket(bucketBy, value);
    }

    private bool Matches(string pattern, string input)
    {
        var regex = _patterns.TryGetValue(pattern, out var cached) ? cached : CachePattern(pattern);
        if (regex is null)
        {
            return false;
        }

        try
        {
            return regex.IsMatch(input);
        }
        catch (RegexMatchTimeoutException)
        {
            LogRegexTimeout(_logger, pattern);
            return false;
        }
    }

    private Regex? CachePattern(string pattern)
    {
        Regex? regex;
        try
        {
            regex = new Regex(pattern, RegexOptions.CultureInvariant, MatchTimeout);
        }
        catch (ArgumentException)
        {
            regex = null; // an invalid pattern never matches
        }

        if (_patterns.Count >= MaxCachedPatterns)
        {
            _patterns.Clear();
        }

        _patterns[pattern] = regex;
        return regex;
    }

    private static bool ListsTarget(IReadOnlyList<Target>? targets, Target target)
    {
        if (targets is null)
        {
            return false;
        }

        foreach (var listed in targets)
        {
            if (string.Equals(listed.Identifier, target.Identifier, StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }

    private static bool Contains(IReadOnlyList<string>? values, string value)
    {
        if (values is null)
        {
            return false;
        }

        foreach (var candidate in values)
        {
            if (string.Equals(candidate, value, StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }

    [LoggerMessage(EventId = LogEventIds.Evaluation.Cycle, Level = LogLevel.Warning, Message = "Prerequisite cycle: flag {Flag} depends on {Prerequisite} which is already being evaluated; serving the off variation")]
    internal static partial void LogCycle(ILogger logger, string flag, string prerequisite);

    [LoggerMessage(EventId = LogEventIds.Evaluation.TooDeep, Level = LogLevel.Warning, Message = "Prerequisite chain of flag {Flag} is deeper than the limit; serving the off variation")]
    internal static partial void LogTooDeep(ILogger logger, string flag);

    [LoggerMessage(EventId = LogEventIds.Evaluation.GroupCycle, Level = LogLevel.Warning, Message = "Target group {Group} refers back to itself through its rules; treating the target as not a member")]
    internal static partial void LogGroupCycle(ILogger logger, string group);

    [LoggerMessage(EventId = LogEventIds.Evaluation.RuleWithoutServe, Level = LogLevel.Debug, Message = "Rule {RuleId} matched but serves nothing; trying the next rule")]
    internal static partial void LogRuleWithoutServe(ILogger logger, string ruleId);

    [LoggerMessage(EventId = LogEventIds.Evaluation.RegexTimeout, Level = LogLevel.Warning, Message = "Regular expression {Pattern} timed out; treating the clause as false")]
    internal static partial void LogRegexTimeout(ILogger logger, string pattern);
}

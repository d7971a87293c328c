namespace FfProxy.Core.Domain;

/// <summary>
/// Structural checks JSON binding cannot express: no <c>null</c> entries inside lists. Evaluation and
/// metrics handling may then walk every list without null checks.
/// </summary>
public static class ConfigValidation
{
    public static string? Problem(FeatureConfig flag)
    {
        if (HasNull(flag.Variations) || HasNull(flag.Rules) || HasNull(flag.Prerequisites) || HasNull(flag.VariationToTargetMap))
        {
            return $"flag '{flag.Feature}' has a null entry in variations, rules, prerequisites or variationToTargetMap";
        }

        if (HasNull(flag.DefaultServe?.Distribution?.Variations))
        {
            return $"flag '{flag.Feature}' has a null entry in its defaultServe distribution";
        }

        foreach (var rule in flag.Rules ?? [])
        {
            if (HasNull(rule.Clauses) || HasNull(rule.Serve?.Distribution?.Variations) || rule.Clauses?.Any(c => HasNull(c.Values)) == true)
            {
                return $"flag '{flag.Feature}' has a null entry in rule '{rule.RuleId}'";
            }
        }

        foreach (var map in flag.VariationToTargetMap ?? [])
        {
            if (HasNull(map.Targets) || HasNull(map.TargetSegments))
            {
                return $"flag '{flag.Feature}' has a null entry in variationToTargetMap";
            }
        }

        return (flag.Prerequisites ?? []).Any(p => HasNull(p.Variations))
            ? $"flag '{flag.Feature}' has a null entry in a prerequisite's variations"
            : null;
    }

    public static string? Problem(Segment segment)
    {
        if (HasNull(segment.Included) || HasNull(segment.Excluded) || HasNull(segment.Rules) || HasNull(segment.ServingRules))
        {
            return $"target group '{segment.Identifier}' has a null entry in included, excluded, rules or servingRules";
        }

        return (segment.Rules ?? []).Any(c => HasNull(c.Values))
            || (segment.ServingRules ?? []).Any(r => HasNull(r.Clauses) || r.Clauses!.Any(c => HasNull(c.Values)))
            ? $"target group '{segment.Identifier}' has a null entry in a rule"
            : null;
    }

    public static string? Problem(MetricsRequest metrics)
    {
        if (HasNull(metrics.MetricsData) || HasNull(metrics.TargetData))
        {
            return "metricsData and targetData must not contain null entries";
        }

        if ((metrics.MetricsData ?? []).FirstOrDefault(m => m.Count < 0) is { } negative)
        {
            return $"metricsData count must not be negative (got {negative.Count})";
        }

        return (metrics.MetricsData ?? []).Any(m => HasNull(m.Attributes)) || (metrics.TargetData ?? []).Any(t => HasNull(t.Attributes))
            ? "attributes must not contain null entries"
            : null;
    }

    private static bool HasNull<T>(IReadOnlyList<T?>? items)
        where T : class
    {
        if (items is null)
        {
            return false;
        }

        foreach (var item in items)
        {
            if (item is null)
            {
                return true;
            }
        }

        return false;
    }
}

namespace FfProxy.Core.Domain;

/// <summary>A target group as served by <c>/client/env/{env}/target-segments</c>.</summary>
public sealed record Segment
{
    public string Identifier { get; init => field = value ?? ""; } = "";
    public string? Name { get; init; }
    public string? Environment { get; init; }
    public IReadOnlyList<Target>? Included { get; init; }
    public IReadOnlyList<Target>? Excluded { get; init; }

    /// <summary>Legacy ("v1") rules: single clauses, OR-ed.</summary>
    public IReadOnlyList<Clause>? Rules { get; init; }

    /// <summary>v2 rules: clauses AND-ed within a rule, rules OR-ed. Non-empty replaces <see cref="Rules"/>.</summary>
    public IReadOnlyList<GroupServingRule>? ServingRules { get; init; }

    public long? Version { get; init; }
}

public sealed record GroupServingRule
{
    public string? RuleId { get; init; }
    public int Priority { get; init; }
    public IReadOnlyList<Clause>? Clauses { get; init; }
}

namespace FfProxy.Core.Domain;

/// <summary>
/// A flag configuration as Harness serves it from <c>/client/env/{env}/feature-configs</c>.
/// This typed view is what evaluation reads; responses are served from the raw JSON so that
/// fields this model does not know survive a load → serve round trip.
/// </summary>
public sealed record FeatureConfig
{
    public string Feature { get; init => field = value ?? ""; } = "";
    public string? Project { get; init; }
    public string? Environment { get; init; }
    public string Kind { get; init => field = value ?? ""; } = "";
    public string State { get; init => field = value ?? ""; } = "";
    public IReadOnlyList<Variation>? Variations { get; init; }
    public Serve? DefaultServe { get; init; }
    public string? OffVariation { get; init; }
    public IReadOnlyList<ServingRule>? Rules { get; init; }
    public IReadOnlyList<Prerequisite>? Prerequisites { get; init; }
    public IReadOnlyList<VariationMap>? VariationToTargetMap { get; init; }
    public long? Version { get; init; }
}

public sealed record Variation
{
    public string Identifier { get; init => field = value ?? ""; } = "";
    public string Value { get; init => field = value ?? ""; } = "";
    public string? Name { get; init; }
    public string? Description { get; init; }
}

public sealed record Serve
{
    public string? Variation { get; init; }
    public Distribution? Distribution { get; init; }
}

public sealed record Distribution
{
    public string BucketBy { get; init => field = value ?? ""; } = "";
    public IReadOnlyList<WeightedVariation>? Variations { get; init; }
}

public sealed record WeightedVariation
{
    public string Variation { get; init => field = value ?? ""; } = "";
    public int Weight { get; init; }
}

public sealed record ServingRule
{
    public string? RuleId { get; init; }
    public int Priority { get; init; }
    public IReadOnlyList<Clause>? Clauses { get; init; }
    public Serve? Serve { get; init; }
}

public sealed record Clause
{
    public string? Id { get; init; }
    public string Attribute { get; init => field = value ?? ""; } = "";
    public string Op { get; init => field = value ?? ""; } = "";
    public IReadOnlyList<string>? Values { get; init; }
    public bool Negate { get; init; }
}

public sealed record Prerequisite
{
    public string Feature { get; init => field = value ?? ""; } = "";
    public IReadOnlyList<string>? Variations { get; init; }
}

public sealed record VariationMap
{
    public string Variation { get; init => field = value ?? ""; } = "";
    public IReadOnlyList<TargetMap>? Targets { get; init; }
    public IReadOnlyList<string>? TargetSegments { get; init; }
}

public sealed record TargetMap
{
    public string Identifier { get; init => field = value ?? ""; } = "";
    public string? Name { get; init; }
}

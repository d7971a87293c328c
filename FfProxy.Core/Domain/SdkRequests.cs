namespace FfProxy.Core.Domain;

/// <summary>Body of <c>POST /client/auth</c>.</summary>
public sealed record AuthRequest
{
    public string? ApiKey { get; init; }
    public Target? Target { get; init; }
}

/// <summary>Body of <c>POST /metrics/{env}</c> (OpenAPI <c>Metrics</c>).</summary>
public sealed record MetricsRequest
{
    public IReadOnlyList<MetricsData>? MetricsData { get; init; }
    public IReadOnlyList<TargetData>? TargetData { get; init; }
}

public sealed record MetricsData
{
    public long Timestamp { get; init; }
    public int Count { get; init; }
    public string? MetricsType { get; init; }
    public IReadOnlyList<KeyValue>? Attributes { get; init; }
}

public sealed record TargetData
{
    public string Identifier { get; init => field = value ?? ""; } = "";
    public string? Name { get; init; }
    public IReadOnlyList<KeyValue>? Attributes { get; init; }
}

public sealed record KeyValue
{
    public string Key { get; init => field = value ?? ""; } = "";
    public string Value { get; init => field = value ?? ""; } = "";
}

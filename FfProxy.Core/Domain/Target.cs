using System.Text.Json;

namespace FfProxy.Core.Domain;

/// <summary>
/// The subject of an evaluation. Attribute values keep their JSON types; evaluation turns them into
/// strings by the Go SDK's rules (numbers in shortest form, booleans lower case).
/// </summary>
public sealed record Target
{
    public string Identifier { get; init => field = value ?? ""; } = "";
    public string? Name { get; init; }
    public bool? Anonymous { get; init; }
    public Dictionary<string, JsonElement>? Attributes { get; init; }

    // Present on targets stored by the proxy and inside segment include/exclude lists.
    public string? Account { get; init; }
    public string? Org { get; init; }
    public string? Environment { get; init; }
    public string? Project { get; init; }
}

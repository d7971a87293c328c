using System.Text.Json.Nodes;

namespace FfProxy.Tests.Fakes;

/// <summary>A request the fake received, for tests to check what the proxy sent.</summary>
public sealed record RecordedRequest(string Method, string Path, string Query, IReadOnlyDictionary<string, string> Headers, byte[] Body)
{
    public string Header(string name) => Headers.TryGetValue(name, out var value) ? value : "";

    public string QueryValue(string name) =>
        Microsoft.AspNetCore.WebUtilities.QueryHelpers.ParseQuery(Query).TryGetValue(name, out var values) ? values.ToString() : "";

    public JsonNode? Json => Body.Length == 0 ? null : JsonNode.Parse(Body);
}

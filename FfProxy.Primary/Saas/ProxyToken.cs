using System.Buffers.Text;
using System.Text.Json;

namespace FfProxy.Primary.Saas;

/// <summary>
/// The token SaaS issues for the Proxy Key (spec §3.2). Opaque to the proxy except for two claims, read
/// without verifying: <c>cluster_identifier</c> (the <c>cluster</c> query parameter) and <c>account</c>.
/// </summary>
internal sealed record ProxyToken(string Value, string ClusterIdentifier, string Account, IReadOnlyList<string> Environments)
{
    public const string DefaultCluster = "1";

    /// <summary>
    /// <c>Bearer {token}</c>, built once: the token lists every environment of the key, so at a thousand environments
    /// it passes the large-object threshold, and a header built per request made each SaaS call cost ~200 KB of
    /// large-object garbage (most of the Primary's allocations in an event storm).
    /// </summary>
    public string AuthorizationHeader { get; } = "Bearer " + Value;

    /// <summary>Reads the claims; a token whose payload cannot be read still works, with the defaults.</summary>
    public static ProxyToken Parse(string jwt)
    {
        var parts = jwt.Split('.');
        if (parts.Length < 2)
        {
            return new ProxyToken(jwt, DefaultCluster, "", []);
        }

        try
        {
            using var payload = JsonDocument.Parse(Base64Url.DecodeFromChars(parts[1]));
            var root = payload.RootElement;
            var cluster = Claim(root, "cluster_identifier");
            var environments = root.TryGetProperty("environments", out var envs) && envs.ValueKind == JsonValueKind.Array
                ? envs.EnumerateArray().Where(e => e.ValueKind == JsonValueKind.String).Select(e => e.GetString()!).ToList()
                : [];
            return new ProxyToken(jwt, string.IsNullOrEmpty(cluster) ? DefaultCluster : cluster, Claim(root, "account"), environments);
        }
        catch (Exception ex) when (ex is JsonException or FormatException)
        {
            return new ProxyToken(jwt, DefaultCluster, "", []);
        }
    }

    private static string Claim(JsonElement root, string name) =>
        root.ValueKind == JsonValueKind.Object && root.TryGetProperty(name, out var value)
            ? value.ValueKind switch
            {
                JsonValueKind.String => value.GetString()!,
                JsonValueKind.Number => value.GetRawText(),
                _ => "",
            }
            : "";
}

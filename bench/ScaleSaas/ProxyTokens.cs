using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace FfProxy.Bench.ScaleSaas;

/// <summary>What a proxy token grants: the environments the key had when it was issued (spec §3.2).</summary>
public sealed record Grant(IReadOnlyList<string> Environments)
{
    public HashSet<string> Set { get; } = new(Environments, StringComparer.Ordinal);
}

/// <summary>
/// JWT-shaped proxy tokens with the claims the Primary reads (<c>cluster_identifier</c>, <c>account</c>,
/// <c>environments</c>). A token grants what the key granted when it was issued, so environments added later
/// need a new token, as with SaaS.
/// </summary>
public sealed class ProxyTokens(string cluster, string account)
{
    private static readonly byte[] SigningKey = Encoding.UTF8.GetBytes("scale-saas-signing-key");
    private readonly ConcurrentDictionary<string, Grant> _issued = new(StringComparer.Ordinal);

    public string Cluster { get; } = cluster;

    public string Account { get; } = account;

    public string Issue(string proxyKey, IReadOnlyList<string> environments)
    {
        var header = Base64Url("""{"alg":"HS256","typ":"JWT"}"""u8.ToArray());
        var claims = new TokenClaims(Cluster, Account, "scale-org", "Proxy", KeyHash(proxyKey), environments, Guid.NewGuid().ToString("N"));
        var payload = Base64Url(JsonSerializer.SerializeToUtf8Bytes(claims, ScaleJsonContext.Default.TokenClaims));
        var signature = Base64Url(HMACSHA256.HashData(SigningKey, Encoding.ASCII.GetBytes(header + "." + payload)));
        var token = $"{header}.{payload}.{signature}";
        _issued[token] = new Grant(environments);
        return token;
    }

    public Grant? Authorize(HttpContext context)
    {
        var header = context.Request.Headers.Authorization.ToString();
        return header.StartsWith("Bearer ", StringComparison.Ordinal) && _issued.TryGetValue(header[7..], out var grant) ? grant : null;
    }

    private static string KeyHash(string proxyKey) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(proxyKey)));

    private static string Base64Url(byte[] bytes) => System.Buffers.Text.Base64Url.EncodeToString(bytes);
}

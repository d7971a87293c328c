using System.Buffers;
using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using FfProxy.Core.Configuration;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace FfProxy.Core.Sdk;

/// <summary>Claim names of proxy-issued SDK tokens (spec §2.4).</summary>
internal static class TokenClaims
{
    public const string ApiKey = "apiKey";
    public const string Environment = "environment";
    public const string ClusterIdentifier = "clusterIdentifier";
}

/// <summary>
/// Issues and verifies the HS256 SDK tokens. Tokens are signed with AUTH_SECRET and verified against it and
/// every LEGACY_SECRETS entry, so secrets can be rotated without mass 401s. Verification is done here
/// (not by IdentityModel's key checks) because the Go proxy's default secret is shorter than 256 bits.
/// </summary>
internal sealed class TokenService
{
    private readonly byte[] _current;
    private readonly byte[][] _legacy;
    private readonly TimeProvider _time;
    private readonly ProxyMetrics _metrics;
    private readonly VerifiedTokens _verified = new(VerifiedTokenCapacity);

    /// <summary>Tokens whose signature this process has verified and remembers (see <see cref="VerifiedTokens"/>).</summary>
    public const int VerifiedTokenCapacity = 10_000;

    public TokenService(ProxyOptions options, TimeProvider time, ProxyMetrics metrics)
    {
        _current = Encoding.UTF8.GetBytes(options.AuthSecret);
        _legacy = [.. options.LegacySecrets.Select(Encoding.UTF8.GetBytes)];
        _time = time;
        _metrics = metrics;
    }

    /// <summary>Allowed clock difference between proxy instances for <c>nbf</c>/<c>iat</c>.</summary>
    public static TimeSpan ClockSkew { get; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// A compact JWS with exactly the Go proxy's claims, in its order: apiKey, environment, clusterIdentifier,
    /// nbf, iat. No <c>exp</c>: tokens live as long as their SDK key.
    /// </summary>
    public string Issue(string apiKeyName, string environment)
    {
        var now = _time.GetUtcNow().ToUnixTimeSeconds();
        var payload = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(payload))
        {
            writer.WriteStartObject();
            writer.WriteString(TokenClaims.ApiKey, apiKeyName);
            writer.WriteString(TokenClaims.Environment, environment);
            writer.WriteString(TokenClaims.ClusterIdentifier, "1");
            writer.WriteNumber("nbf", now);
            writer.WriteNumber("iat", now);
            writer.WriteEndObject();
        }

        var signingInput = Base64Url.EncodeToString("{\"alg\":\"HS256\",\"typ\":\"JWT\"}"u8) + "." + Base64Url.EncodeToString(payload.WrittenSpan);
        Span<byte> signature = stackalloc byte[HMACSHA256.HashSizeInBytes];
        HMACSHA256.HashData(_current, Encoding.ASCII.GetBytes(signingInput), signature);
        return signingInput + "." + Base64Url.EncodeToString(signature);
    }

    /// <summary>
    /// The token's claims when its signature is one of ours (AUTH_SECRET or a LEGACY_SECRETS entry), else null.
    /// Times and the SDK key are checked per request by <see cref="SdkAuthentication"/>; only this part is remembered.
    /// </summary>
    public VerifiedToken? Verify(string token)
    {
        if (_verified.TryGet(token, out var known))
        {
            _metrics.RecordTokenVerified(known.LegacySecret);
            return known;
        }

        var lastDot = token.LastIndexOf('.');
        var firstDot = token.IndexOf('.', StringComparison.Ordinal);
        if (firstDot <= 0 || lastDot <= firstDot)
        {
            return null;
        }

        JsonWebToken jwt;
        try
        {
            jwt = new JsonWebToken(token);
        }
        catch (Exception ex) when (ex is ArgumentException or SecurityTokenException or FormatException or JsonException)
        {
            return null;
        }

        if (!string.Equals(jwt.Alg, SecurityAlgorithms.HmacSha256, StringComparison.Ordinal))
        {
            return null;
        }

        Span<byte> presented = stackalloc byte[HMACSHA256.HashSizeInBytes];
        if (!Base64Url.TryDecodeFromChars(token.AsSpan(lastDot + 1), presented, out var written) || written != presented.Length)
        {
            return null;
        }

        var input = Encoding.ASCII.GetBytes(token, 0, lastDot);
        if (Verify(_current, input, presented))
        {
            return Remember(token, VerifiedToken.From(jwt, legacySecret: false));
        }

        foreach (var secret in _legacy)
        {
            if (Verify(secret, input, presented))
            {
                return Remember(token, VerifiedToken.From(jwt, legacySecret: true));
            }
        }

        return null;
    }

    private VerifiedToken? Remember(string token, VerifiedToken? verified)
    {
        if (verified is null)
        {
            return null;
        }

        _metrics.RecordTokenVerified(verified.LegacySecret);
        return _verified.Add(token, verified);
    }

    private static bool Verify(byte[] secret, byte[] input, ReadOnlySpan<byte> presented)
    {
        Span<byte> expected = stackalloc byte[HMACSHA256.HashSizeInBytes];
        HMACSHA256.HashData(secret, input, expected);
        return CryptographicOperations.FixedTimeEquals(expected, presented);
    }
}

/// <summary>
/// What a request needs of a token whose signature checked out: its claims as strings (as a claims principal would
/// show them; null when absent) and its times (null when absent), read once per token.
/// </summary>
internal sealed record VerifiedToken(string? Environment, string? ApiKey, DateTimeOffset? NotBefore, DateTimeOffset? Expires, DateTimeOffset? IssuedAt, bool LegacySecret)
{
    /// <summary>The claims of a verified token; null when its times are not numbers (JwtBearer refused those too).</summary>
    public static VerifiedToken? From(JsonWebToken jwt, bool legacySecret)
    {
        try
        {
            return new(
                Claim(jwt, TokenClaims.Environment),
                Claim(jwt, TokenClaims.ApiKey),
                jwt.TryGetPayloadValue<object>(JwtRegisteredClaimNames.Nbf, out _) ? new DateTimeOffset(jwt.ValidFrom, TimeSpan.Zero) : null,
                jwt.TryGetPayloadValue<object>(JwtRegisteredClaimNames.Exp, out _) ? new DateTimeOffset(jwt.ValidTo, TimeSpan.Zero) : null,
                long.TryParse(Claim(jwt, JwtRegisteredClaimNames.Iat), System.Globalization.CultureInfo.InvariantCulture, out var iat)
                    ? DateTimeOffset.FromUnixTimeSeconds(Math.Clamp(iat, -62135596800L, 253402300799L))
                    : null,
                legacySecret);
        }
        catch (Exception ex) when (ex is SecurityTokenException or ArgumentException or FormatException or OverflowException)
        {
            return null;
        }
    }

    private static string? Claim(JsonWebToken jwt, string name) => jwt.TryGetClaim(name, out var claim) ? claim.Value : null;
}

/// <summary>
/// Signatures already verified, keyed by the whole token string: an SDK presents the same token on every request,
/// so parsing it and computing one HMAC per secret again on each request is avoidable work. Only the signature check
/// (and the claims it vouches for) is remembered. The time checks and the SDK key's existence
/// (<see cref="SdkAuthentication"/>) run on every request, so removing a
/// key still rejects its tokens at once. Secrets are read once per process, so a rotation (new AUTH_SECRET,
/// LEGACY_SECRETS) is a restart and starts empty. Only tokens with a valid signature get in, so the bound is
/// reached by real SDK tokens only; then it starts over rather than keep an order per hit.
/// </summary>
internal sealed class VerifiedTokens(int capacity)
{
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, VerifiedToken> _tokens = new(StringComparer.Ordinal);

    public int Count => _tokens.Count;

    public bool TryGet(string token, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out VerifiedToken? verified) =>
        _tokens.TryGetValue(token, out verified);

    public VerifiedToken Add(string token, VerifiedToken verified)
    {
        if (_tokens.Count >= capacity)
        {
            _tokens.Clear();
        }

        _tokens[token] = verified;
        return verified;
    }
}

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
    /// The signature check plugged into JwtBearer's <see cref="TokenValidationParameters.SignatureValidator"/>;
    /// lifetime checks stay with JwtBearer.
    /// </summary>
    public SecurityToken ValidateSignature(string token, TokenValidationParameters parameters)
    {
        if (_verified.TryGet(token, out var known))
        {
            _metrics.RecordTokenVerified(known.LegacySecret);
            return known.Token;
        }

        var lastDot = token.LastIndexOf('.');
        var firstDot = token.IndexOf('.', StringComparison.Ordinal);
        if (firstDot <= 0 || lastDot <= firstDot)
        {
            throw new SecurityTokenMalformedException("The token is not a compact JWS.");
        }

        var jwt = new JsonWebToken(token);
        if (!string.Equals(jwt.Alg, SecurityAlgorithms.HmacSha256, StringComparison.Ordinal))
        {
            throw new SecurityTokenInvalidAlgorithmException("Only HS256 tokens are accepted.");
        }

        Span<byte> presented = stackalloc byte[HMACSHA256.HashSizeInBytes];
        if (!Base64Url.TryDecodeFromChars(token.AsSpan(lastDot + 1), presented, out var written) || written != presented.Length)
        {
            throw new SecurityTokenInvalidSignatureException("The token signature is malformed.");
        }

        var input = Encoding.ASCII.GetBytes(token, 0, lastDot);
        if (Verify(_current, input, presented))
        {
            _metrics.RecordTokenVerified(legacySecret: false);
            _verified.Add(token, new VerifiedToken(jwt, LegacySecret: false));
            return jwt;
        }

        foreach (var secret in _legacy)
        {
            if (Verify(secret, input, presented))
            {
                _metrics.RecordTokenVerified(legacySecret: true);
                _verified.Add(token, new VerifiedToken(jwt, LegacySecret: true));
                return jwt;
            }
        }

        throw new SecurityTokenInvalidSignatureException("The token signature does not match.");
    }

    private static bool Verify(byte[] secret, byte[] input, ReadOnlySpan<byte> presented)
    {
        Span<byte> expected = stackalloc byte[HMACSHA256.HashSizeInBytes];
        HMACSHA256.HashData(secret, input, expected);
        return CryptographicOperations.FixedTimeEquals(expected, presented);
    }
}

internal sealed record VerifiedToken(JsonWebToken Token, bool LegacySecret);

/// <summary>
/// Signatures already verified, keyed by the whole token string: an SDK presents the same token on every request,
/// so parsing it and computing one HMAC per secret again on each request is avoidable work. Only the signature check is remembered. JwtBearer's
/// time checks and <see cref="SdkTokenEvents"/> (the SDK key must still exist) run on every request, so removing a
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

    public void Add(string token, VerifiedToken verified)
    {
        if (_tokens.Count >= capacity)
        {
            _tokens.Clear();
        }

        _tokens[token] = verified;
    }
}

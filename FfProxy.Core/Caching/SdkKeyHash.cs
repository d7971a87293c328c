using System.Buffers;
using System.Security.Cryptography;
using System.Text;

namespace FfProxy.Core.Caching;

/// <summary>SDK keys are only ever stored as the lowercase hex SHA-256 of their UTF-8 bytes (spec §2.4).</summary>
public static class SdkKeyHash
{
    public static string Compute(string sdkKey)
    {
        var byteCount = Encoding.UTF8.GetByteCount(sdkKey);
        var bytes = byteCount <= 512 ? stackalloc byte[byteCount] : new byte[byteCount];
        Encoding.UTF8.GetBytes(sdkKey, bytes);
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(bytes, hash);
        return Convert.ToHexStringLower(hash);
    }

    private static readonly SearchValues<char> HexDigits = SearchValues.Create("0123456789abcdefABCDEF");

    /// <summary>True for 64 hex characters, the form SaaS and the offline directory use for key hashes.</summary>
    public static bool IsHash(string value) => value.Length == 64 && !value.AsSpan().ContainsAnyExcept(HexDigits);
}

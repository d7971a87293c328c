using System.Buffers;
using System.Buffers.Text;
using System.Text.Json;
using FfProxy.Core.Domain;

namespace FfProxy.Core.Sdk;

/// <summary>The <c>Harness-Target</c> header: standard base64 of the target JSON, sent by client SDKs.</summary>
internal static class TargetHeader
{
    /// <summary>Client SDKs only send the header below 256 KiB; anything larger is not theirs.</summary>
    private const int MaxHeaderChars = 350 * 1024;

    public static bool TryDecode(string header, out Target target)
    {
        target = null!;
        if (header.Length > MaxHeaderChars)
        {
            return false;
        }

        var bytes = ArrayPool<byte>.Shared.Rent(Base64.GetMaxDecodedFromUtf8Length(header.Length));
        try
        {
            if (!Convert.TryFromBase64String(header, bytes, out var written))
            {
                return false;
            }

            var parsed = JsonSerializer.Deserialize(bytes.AsSpan(0, written), ProxyJsonContext.Default.Target);
            if (parsed is null)
            {
                return false;
            }

            target = parsed;
            return true;
        }
        catch (JsonException)
        {
            return false;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(bytes);
        }
    }
}

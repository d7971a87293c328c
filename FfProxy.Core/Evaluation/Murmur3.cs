using System.Buffers;
using System.Buffers.Binary;
using System.Numerics;
using System.Text;

namespace FfProxy.Core.Evaluation;

/// <summary>MurmurHash3 x86 32-bit, and the percentage bucket Harness derives from it (spec/evaluation.md §7).</summary>
internal static class Murmur3
{
    public static uint Hash32(ReadOnlySpan<byte> data, uint seed = 0)
    {
        const uint c1 = 0xcc9e2d51;
        const uint c2 = 0x1b873593;
        var h = seed;
        var blocks = data.Length / 4;
        for (var i = 0; i < blocks; i++)
        {
            var k = BinaryPrimitives.ReadUInt32LittleEndian(data.Slice(i * 4, 4));
            k *= c1;
            k = BitOperations.RotateLeft(k, 15);
            k *= c2;
            h ^= k;
            h = BitOperations.RotateLeft(h, 13);
            h = (h * 5) + 0xe6546b64;
        }

        var tail = data[(blocks * 4)..];
        uint k1 = 0;
        switch (tail.Length)
        {
            case 3:
                k1 ^= (uint)tail[2] << 16;
                goto case 2;
            case 2:
                k1 ^= (uint)tail[1] << 8;
                goto case 1;
            case 1:
                k1 ^= tail[0];
                k1 *= c1;
                k1 = BitOperations.RotateLeft(k1, 15);
                k1 *= c2;
                h ^= k1;
                break;
        }

        h ^= (uint)data.Length;
        h ^= h >> 16;
        h *= 0x85ebca6b;
        h ^= h >> 13;
        h *= 0xc2b2ae35;
        h ^= h >> 16;
        return h;
    }

    /// <summary>
    /// Bucket 1..100 of <c>"&lt;bucketBy&gt;:&lt;value&gt;"</c>: unsigned murmur3 (seed 0) of the UTF-8 bytes,
    /// mod 100, plus 1. The flag is not part of the input, so rollouts correlate across flags.
    /// </summary>
    public static int Bucket(string bucketBy, string value)
    {
        var length = Encoding.UTF8.GetByteCount(bucketBy) + 1 + Encoding.UTF8.GetByteCount(value);
        byte[]? rented = null;
        var bytes = length <= 256 ? stackalloc byte[length] : (rented = ArrayPool<byte>.Shared.Rent(length)).AsSpan(0, length);
        try
        {
            var written = Encoding.UTF8.GetBytes(bucketBy, bytes);
            bytes[written++] = (byte)':';
            Encoding.UTF8.GetBytes(value, bytes[written..]);
            return (int)(Hash32(bytes) % 100) + 1;
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }
}

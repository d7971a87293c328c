using System.Text.Json;
using StackExchange.Redis;

namespace FfProxy.Bench.ScaleProbe;

/// <summary>
/// Reads what the Primary wrote, with <c>MGET</c> only (in batches), and counts its own calls so the benchmark can
/// take them out of Redis's command statistics.
/// </summary>
public sealed class RedisView(IDatabase redis)
{
    private const int Batch = 500;

    public int MgetCalls { get; private set; }

    public static string FlagKey(string environment, string flag) => $"env-{environment}-feature-config-{flag}";

    /// <summary>The flags whose key does not hold at least the expected version yet.</summary>
    public async Task<List<FlagChange>> BehindAsync(IReadOnlyList<FlagChange> expected)
    {
        var behind = new List<FlagChange>();
        foreach (var chunk in expected.Chunk(Batch))
        {
            var values = await GetAsync(chunk.Select(c => FlagKey(c.Environment, c.Flag)));
            for (var i = 0; i < chunk.Length; i++)
            {
                if (Json.Version(values[i]) < chunk[i].Version)
                {
                    behind.Add(chunk[i]);
                }
            }
        }

        return behind;
    }

    /// <summary>The environments whose flag and group lists do not hold the expected number of items yet.</summary>
    public async Task<List<string>> IncompleteAsync(IReadOnlyList<string> environments, int flags, int groups)
    {
        var incomplete = new List<string>();
        foreach (var chunk in environments.Chunk(Batch / 2))
        {
            var values = await GetAsync(chunk.SelectMany(e => new[] { $"env-{e}-feature-configs", $"env-{e}-segments" }));
            for (var i = 0; i < chunk.Length; i++)
            {
                if (Json.Length(values[2 * i]) != flags || Json.Length(values[2 * i + 1]) != groups)
                {
                    incomplete.Add(chunk[i]);
                }
            }
        }

        return incomplete;
    }

    private async Task<RedisValue[]> GetAsync(IEnumerable<string> keys)
    {
        MgetCalls++;
        return await redis.StringGetAsync([.. keys.Select(k => (RedisKey)k)]);
    }
}

/// <summary>The two things the probe reads from an item or list JSON.</summary>
public static class Json
{
    /// <summary>The top-level <c>version</c> of an item; -1 when absent or unreadable.</summary>
    public static long Version(RedisValue value) => value.IsNull ? -1 : Version((byte[])value!);

    public static long Version(ReadOnlySpan<byte> json)
    {
        try
        {
            var reader = new Utf8JsonReader(json);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return -1;
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var isVersion = reader.ValueTextEquals("version"u8);
                reader.Read();
                if (isVersion && reader.TokenType == JsonTokenType.Number)
                {
                    return reader.GetInt64();
                }

                reader.Skip();
            }
        }
        catch (JsonException)
        {
            // Unreadable counts as not there yet.
        }

        return -1;
    }

    /// <summary>The number of elements of a JSON array; -1 when absent or not an array.</summary>
    public static int Length(RedisValue value) => value.IsNull ? -1 : Length((byte[])value!);

    public static int Length(ReadOnlySpan<byte> json)
    {
        try
        {
            var reader = new Utf8JsonReader(json);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartArray)
            {
                return -1;
            }

            var count = 0;
            while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
            {
                count++;
                reader.Skip();
            }

            return count;
        }
        catch (JsonException)
        {
            return -1;
        }
    }
}

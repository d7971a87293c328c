using System.Runtime.CompilerServices;
using FfProxy.Core.Caching.Redis;
using FfProxy.Core.Messaging;
using StackExchange.Redis;
using MessageStreamEntry = FfProxy.Core.Messaging.MessageStreamEntry;
using MessageStreamPosition = FfProxy.Core.Messaging.MessageStreamPosition;

namespace FfProxy.Core.Messaging.Redis;

/// <summary>
/// Redis streams as the Go proxy uses them (spec §4.3): <c>XADD stream MAXLEN n * event payload</c> with an exact
/// MAXLEN, and readers that follow a stream from an id without consumer groups. Readers wait in
/// <c>XREAD BLOCK</c> on a connection of their own (<see cref="StreamReadConnections"/>), so an entry reaches
/// them as soon as Redis has it; appends and everything else use the shared multiplexer.
/// </summary>
internal sealed class RedisMessageStreams(IConnectionMultiplexer redis, StreamReadConnections readConnections) : IMessageStreams
{
    public const string PayloadField = "event";

    private const int ReadCount = 100;

    public async Task<string> AppendAsync(string stream, ReadOnlyMemory<byte> payload, int maxLength, CancellationToken cancellationToken)
    {
        var id = await RedisCalls.GuardAsync(() => Database.StreamAddAsync(
            stream, PayloadField, payload, maxLength: maxLength, useApproximateMaxLength: false)).ConfigureAwait(false);
        return id.ToString();
    }

    public async IAsyncEnumerable<MessageStreamEntry> ReadAsync(string stream, string afterId, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var connection = await RedisCalls.GuardAsync(() => readConnections.RentAsync(cancellationToken)).ConfigureAwait(false);
        try
        {
            var database = connection.GetDatabase(redis.GetDatabase().Database);

            // $ is fixed to an id once, on the reader's own connection (so only once that connection works, e.g.
            // after Redis came back): each XREAD BLOCK after the first continues where the previous one ended.
            var last = afterId == MessageStreamPosition.NewOnly ? await LastIdAsync(database, stream).ConfigureAwait(false) : afterId;
            var blockMilliseconds = (long)readConnections.BlockTime.TotalMilliseconds;
            while (!cancellationToken.IsCancellationRequested)
            {
                // The key as a RedisKey routes the command to the node that holds the stream in a cluster.
                var position = last;
                var read = await RedisCalls.GuardAsync(() => database.ExecuteAsync("XREAD",
                    ["COUNT", ReadCount, "BLOCK", blockMilliseconds, "STREAMS", (RedisKey)stream, position])
                    .WaitAsync(cancellationToken)).ConfigureAwait(false);
                foreach (var entry in Entries(read))
                {
                    last = entry.Id;
                    yield return entry;
                }
            }
        }
        finally
        {
            readConnections.Return(connection);
        }
    }

    /// <summary>
    /// The entries of a one-stream XREAD reply: nil when the block time ended without one, else
    /// <c>[[key, [[id, [field, value, …]], …]]]</c> (RESP2) or <c>{key: [[id, [field, value, …]], …]}</c> (RESP3).
    /// </summary>
    private static IEnumerable<MessageStreamEntry> Entries(RedisResult read)
    {
        if (read.IsNull || read.Length == 0)
        {
            yield break;
        }

        var entries = read.Resp3Type == ResultType.Map ? read[1] : read[0][1];
        for (var i = 0; i < entries.Length; i++)
        {
            var entry = entries[i];
            yield return new MessageStreamEntry((string)entry[0]!, Payload(entry[1]));
        }
    }

    /// <summary>The value of the <c>event</c> field, or of the first field when a foreign writer named it otherwise.</summary>
    private static ReadOnlyMemory<byte> Payload(RedisResult fields)
    {
        if (fields.IsNull || fields.Length < 2)
        {
            return ReadOnlyMemory<byte>.Empty;
        }

        for (var i = 0; i + 1 < fields.Length; i += 2)
        {
            if ((string?)fields[i] == PayloadField)
            {
                return (byte[]?)fields[i + 1] ?? [];
            }
        }

        return (byte[]?)fields[1] ?? [];
    }

    public Task<string> NewestIdAsync(string stream, CancellationToken cancellationToken) => LastIdAsync(Database, stream);

    /// <summary>The id <c>$</c> stands for when a reader starts: the newest entry, or the beginning of an empty stream.</summary>
    private static async Task<string> LastIdAsync(IDatabase database, string stream)
    {
        var newest = await RedisCalls.GuardAsync(() => database.StreamRangeAsync(stream, "-", "+", 1, Order.Descending)).ConfigureAwait(false);
        return newest.Length == 0 ? "0-0" : newest[0].Id.ToString();
    }

    private IDatabase Database => redis.GetDatabase();
}

using System.Runtime.CompilerServices;
using FfProxy.Core.Caching.Redis;
using FfProxy.Core.Messaging;
using StackExchange.Redis;
using MessageStreamEntry = FfProxy.Core.Messaging.MessageStreamEntry;
using MessageStreamPosition = FfProxy.Core.Messaging.MessageStreamPosition;

namespace FfProxy.Core.Messaging.Redis;

/// <summary>
/// Redis streams as the Go proxy uses them (spec §4.3): <c>XADD stream MAXLEN n * event payload</c> with an exact
/// MAXLEN, and readers that follow a stream from an id without consumer groups. A multiplexed connection cannot
/// block on XREAD, so readers poll briefly when they have caught up.
/// </summary>
internal sealed class RedisMessageStreams(IConnectionMultiplexer redis, TimeProvider time) : IMessageStreams
{
    public const string PayloadField = "event";

    /// <summary>Wait between reads once a reader has caught up: the bound on event latency added here.</summary>
    public static TimeSpan PollInterval { get; } = TimeSpan.FromMilliseconds(50);

    private const int ReadCount = 100;

    public async Task<string> AppendAsync(string stream, ReadOnlyMemory<byte> payload, int maxLength, CancellationToken cancellationToken)
    {
        var id = await RedisCalls.GuardAsync(() => Database.StreamAddAsync(
            stream, PayloadField, payload, maxLength: maxLength, useApproximateMaxLength: false)).ConfigureAwait(false);
        return id.ToString();
    }

    public async IAsyncEnumerable<MessageStreamEntry> ReadAsync(string stream, string afterId, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var last = afterId == MessageStreamPosition.NewOnly ? await LastIdAsync(stream).ConfigureAwait(false) : afterId;
        while (!cancellationToken.IsCancellationRequested)
        {
            var position = last;
            var entries = await RedisCalls.GuardAsync(() => Database.StreamReadAsync(stream, position, ReadCount)).ConfigureAwait(false);
            if (entries.Length == 0)
            {
                await Task.Delay(PollInterval, time, cancellationToken).ConfigureAwait(false);
                continue;
            }

            foreach (var entry in entries)
            {
                last = entry.Id.ToString();
                var payload = entry[PayloadField];
                if (payload.IsNull && entry.Values.Length > 0)
                {
                    payload = entry.Values[0].Value;
                }

                yield return new MessageStreamEntry(last, payload.IsNull ? ReadOnlyMemory<byte>.Empty : (byte[])payload!);
            }
        }
    }

    /// <summary>The id <c>$</c> stands for when a reader starts: the newest entry, or the beginning of an empty stream.</summary>
    private async Task<string> LastIdAsync(string stream)
    {
        var newest = await RedisCalls.GuardAsync(() => Database.StreamRangeAsync(stream, "-", "+", 1, Order.Descending)).ConfigureAwait(false);
        return newest.Length == 0 ? "0-0" : newest[0].Id.ToString();
    }

    private IDatabase Database => redis.GetDatabase();
}

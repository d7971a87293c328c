using System.Diagnostics;
using System.Text;
using FfProxy.Core.Caching;
using FfProxy.Core.Caching.Redis;
using FfProxy.Core.Configuration;
using FfProxy.Core.Messaging;
using FfProxy.Core.Messaging.Redis;
using FfProxy.Tests.Fixtures;
using StackExchange.Redis;

namespace FfProxy.Tests.Caching;

/// <summary>
/// Stream readers wait in <c>XREAD BLOCK</c> on connections of their own, against a real redis-server (its own,
/// since one test kills it).
/// </summary>
public sealed class RedisMessageStreamsTests(RedisServer redis) : IClassFixture<RedisServer>, IAsyncLifetime, IAsyncDisposable
{
    private ConnectionMultiplexer _connection = null!;
    private StreamReadConnections _readConnections = null!;
    private RedisMessageStreams _streams = null!;
    private string _readerName = "";

    public async Task InitializeAsync()
    {
        if (await redis.PingsAsync() is false)
        {
            await redis.StartAsync();
        }

        await redis.FlushAsync();
        var options = RedisConnection.Parse(new RedisOptions { Address = redis.Address, DialTimeoutSeconds = 1, ReadTimeoutSeconds = 3, WriteTimeoutSeconds = 3 });
        options.ClientName = $"test-{Guid.NewGuid():N}";
        _readerName = options.ClientName + "-stream-reader";
        _connection = await ConnectionMultiplexer.ConnectAsync(options);
        _readConnections = new StreamReadConnections(options);
        _streams = new RedisMessageStreams(_connection, _readConnections);
    }

    public async Task DisposeAsync()
    {
        await _readConnections.DisposeAsync();
        await _connection.DisposeAsync();
    }

    async ValueTask IAsyncDisposable.DisposeAsync() => await DisposeAsync();

    [Fact]
    public async Task Streams_are_trimmed_to_exactly_maxlen_with_the_event_field()
    {
        for (var i = 0; i < 7; i++)
        {
            await _streams.AppendAsync("s:trim", Encoding.UTF8.GetBytes($"{{\"n\":{i}}}"), 5, default);
        }

        var entries = await _connection.GetDatabase().StreamRangeAsync("s:trim");
        Assert.Equal(5, entries.Length);
        Assert.Equal("{\"n\":6}", (string?)entries[^1]["event"]);
    }

    [Fact]
    public async Task A_reader_from_dollar_sees_only_new_entries_and_can_resume_after_an_id()
    {
        await _streams.AppendAsync("s:read", "old"u8.ToArray(), 100, default);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await using var reader = _streams.ReadAsync("s:read", MessageStreamPosition.NewOnly, timeout.Token).GetAsyncEnumerator(timeout.Token);
        var next = reader.MoveNextAsync().AsTask();

        // The reader fixes what $ means before its first XREAD: once it blocks, what is appended next is new to it.
        await Eventually.TrueAsync(async () => await redis.BlockedStreamReadersAsync() == 1, because: "the reader blocks in XREAD");
        var firstId = await _streams.AppendAsync("s:read", "new-1"u8.ToArray(), 100, default);
        await _streams.AppendAsync("s:read", "new-2"u8.ToArray(), 100, default);

        Assert.True(await next);
        Assert.Equal("new-1", Encoding.UTF8.GetString(reader.Current.Payload.Span));
        Assert.Equal(firstId, reader.Current.Id);

        await foreach (var entry in _streams.ReadAsync("s:read", firstId, timeout.Token))
        {
            Assert.Equal("new-2", Encoding.UTF8.GetString(entry.Payload.Span));
            break;
        }
    }

    [Fact]
    public async Task A_blocked_reader_gets_an_entry_as_soon_as_it_is_appended_without_holding_up_the_shared_connection()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await using var reader = _streams.ReadAsync("s:block", MessageStreamPosition.NewOnly, timeout.Token).GetAsyncEnumerator(timeout.Token);
        var next = reader.MoveNextAsync().AsTask();
        await Eventually.TrueAsync(async () => await redis.BlockedStreamReadersAsync() == 1, because: "the reader waits in XREAD BLOCK instead of polling");

        // The blocked read is on the reader's own connection: the shared one still answers at once.
        var ping = Stopwatch.StartNew();
        await _connection.GetDatabase().PingAsync();
        Assert.True(ping.Elapsed < _readConnections.BlockTime, $"PING on the shared connection took {ping.Elapsed.TotalMilliseconds} ms");

        var appended = Stopwatch.StartNew();
        var id = await _streams.AppendAsync("s:block", "now"u8.ToArray(), 100, default);
        Assert.True(await next);
        appended.Stop();
        Assert.Equal(id, reader.Current.Id);

        // Redis answers a blocked XREAD on XADD; waiting out the block time (or a poll interval) would be slower.
        Assert.True(appended.Elapsed < _readConnections.BlockTime, $"the entry took {appended.Elapsed.TotalMilliseconds} ms to arrive");
    }

    [Fact]
    public async Task A_blocked_reader_stops_at_once_when_cancelled_and_its_connection_serves_the_next_reader()
    {
        using var stop = new CancellationTokenSource();
        var reader = _streams.ReadAsync("s:cancel", MessageStreamPosition.NewOnly, stop.Token).GetAsyncEnumerator(stop.Token);
        var next = reader.MoveNextAsync().AsTask();
        await Eventually.TrueAsync(async () => await redis.BlockedStreamReadersAsync() == 1, because: "the reader blocks in XREAD");

        var cancelled = Stopwatch.StartNew();
        await stop.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => next);
        cancelled.Stop();
        await reader.DisposeAsync();
        Assert.True(cancelled.Elapsed < _readConnections.BlockTime, $"cancellation took {cancelled.Elapsed.TotalMilliseconds} ms");

        // The next reader gets the returned connection (its first command may queue behind the abandoned block, so
        // it starts from a known id rather than $).
        var before = await _streams.AppendAsync("s:cancel", "before"u8.ToArray(), 100, default);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await using var again = _streams.ReadAsync("s:cancel", before, timeout.Token).GetAsyncEnumerator(timeout.Token);
        var nextAgain = again.MoveNextAsync().AsTask();
        var id = await _streams.AppendAsync("s:cancel", "after"u8.ToArray(), 100, default);
        Assert.True(await nextAgain);
        Assert.Equal(id, again.Current.Id);
        Assert.Equal(1, await StreamReaderConnectionsAsync());
    }

    /// <summary>
    /// Multiplexers this test's readers opened: their interactive connections, by the client name
    /// <see cref="StreamReadConnections"/> gives them (each also has a subscription connection).
    /// </summary>
    private async Task<int> StreamReaderConnectionsAsync()
    {
        await using var admin = await redis.ConnectAsync();
        var clients = await admin.GetServer(redis.Address).ClientListAsync();
        return clients.Count(c => c.Name == _readerName && c.ClientType != ClientType.PubSub);
    }

    [Fact]
    public async Task A_blocked_reader_fails_when_redis_is_killed_and_reads_again_once_it_is_back_empty()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var reader = _streams.ReadAsync(CacheKeys.SseEventsStream, MessageStreamPosition.NewOnly, timeout.Token).GetAsyncEnumerator(timeout.Token);
        var next = reader.MoveNextAsync().AsTask();
        await Eventually.TrueAsync(async () => await redis.BlockedStreamReadersAsync() == 1, because: "the reader blocks in XREAD");

        await redis.StopAsync();
        // The reader ends by throwing, as IMessageStreams promises, so its caller backs off and reads again.
        await Assert.ThrowsAsync<StoreUnavailableException>(() => next);
        await reader.DisposeAsync();

        await redis.StartAsync();
        // As a follower does: read again from $ until Redis answers; the restarted Redis holds no stream at all.
        MessageStreamEntry? received = null;
        await Eventually.TrueAsync(async () =>
        {
            try
            {
                using var attempt = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token);
                await using var resumed = _streams.ReadAsync(CacheKeys.SseEventsStream, MessageStreamPosition.NewOnly, attempt.Token).GetAsyncEnumerator(attempt.Token);
                var first = resumed.MoveNextAsync().AsTask();
                await Eventually.TrueAsync(async () => first.IsCompleted || await redis.BlockedStreamReadersAsync() == 1, TimeSpan.FromSeconds(10), "the resumed reader blocks in XREAD");
                if (first.IsCompleted)
                {
                    await first; // a failure of the reconnecting connection: try again
                }

                var id = await _streams.AppendAsync(CacheKeys.SseEventsStream, "back"u8.ToArray(), 1000, default);
                Assert.True(await first);
                Assert.Equal(id, resumed.Current.Id);
                received = resumed.Current;
                await attempt.CancelAsync();
                return true;
            }
            catch (StoreUnavailableException)
            {
                return false;
            }
        }, TimeSpan.FromSeconds(30), "a reader reads the restarted Redis");
        Assert.Equal("back", Encoding.UTF8.GetString(received!.Value.Payload.Span));
    }
}

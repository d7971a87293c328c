using FfProxy.Core.Domain;
using FfProxy.Core.Sdk;
using FfProxy.Tests.Fixtures;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging.Abstractions;

namespace FfProxy.Tests.Sdk;

/// <summary>
/// The per-stream queue that replaced a Channel: order, wake-ups, ending, the slow-client bound, and the SDK going
/// away ending the writer loop through its one registration.
/// </summary>
public sealed class SdkStreamConnectionTests : IDisposable
{
    private const string Environment = "env-1";
    private static readonly TimeSpan Within = TimeSpan.FromSeconds(10);
    private readonly TestMeterFactory _meters = new();
    private readonly SdkStreamHub _hub;

    public SdkStreamConnectionTests() =>
        _hub = new SdkStreamHub(new ProxyMetrics(_meters, ProxyRole.Primary), TimeProvider.System, NullLogger<SdkStreamHub>.Instance);

    public void Dispose() => _meters.Dispose();

    [Fact]
    public async Task Queued_frames_are_read_in_order_without_waiting()
    {
        using var connection = _hub.Connect(Environment);
        byte[] first = [1], second = [2];
        Assert.True(connection.TryEnqueue(first));
        Assert.True(connection.TryEnqueue(second));

        var ready = connection.WaitToReadAsync();
        Assert.True(ready.IsCompletedSuccessfully);
        Assert.True(await ready);
        Assert.True(connection.TryRead(out var a));
        Assert.True(connection.TryRead(out var b));
        Assert.False(connection.TryRead(out _));
        Assert.Same(first, a);
        Assert.Same(second, b);
    }

    [Fact]
    public async Task A_waiting_reader_wakes_for_each_frame_published_to_its_environment()
    {
        using var connection = _hub.Connect(Environment);
        for (var round = 0; round < 3; round++)
        {
            var waiting = connection.WaitToReadAsync().AsTask();
            Assert.False(waiting.IsCompleted);

            Assert.Equal(1, _hub.Publish(new StreamMessage { Event = "patch", Domain = "flag", Identifier = "f" + round, Version = round, Environment = Environment }));
            Assert.True(await waiting.WaitAsync(Within));
            Assert.True(connection.TryRead(out var frame));
            Assert.Contains("\"identifier\":\"f" + round + "\"", System.Text.Encoding.UTF8.GetString(frame), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Completing_ends_the_wait_after_the_frames_already_queued()
    {
        using var connection = _hub.Connect(Environment);
        var waiting = connection.WaitToReadAsync().AsTask();
        _hub.Close(Environment);
        Assert.False(await waiting.WaitAsync(Within));

        using var other = _hub.Connect(Environment);
        Assert.True(other.TryEnqueue([7]));
        _hub.Close(Environment);
        Assert.True(await other.WaitToReadAsync());
        Assert.True(other.TryRead(out _));
        Assert.False(await other.WaitToReadAsync());

        // A frame for a stream that is ending is dropped, not counted as a slow client.
        Assert.True(other.TryEnqueue([8]));
        Assert.False(other.TryRead(out _));
    }

    [Fact]
    public async Task A_stream_that_falls_a_full_queue_behind_is_closed_and_the_others_still_get_the_event()
    {
        using var slow = _hub.Connect(Environment);
        for (var i = 0; i < SdkStreamConnection.QueueCapacity; i++)
        {
            Assert.True(slow.TryEnqueue([1]));
        }

        Assert.False(slow.TryEnqueue([2]));

        using var healthy = _hub.Connect(Environment);
        Assert.Equal(1, _hub.Publish(new StreamMessage { Event = "patch", Domain = "flag", Identifier = "x", Environment = Environment }));

        // The slow stream keeps what it had queued, then ends; the healthy one got the event.
        var drained = 0;
        while (await slow.WaitToReadAsync().AsTask().WaitAsync(Within))
        {
            while (slow.TryRead(out _))
            {
                drained++;
            }
        }

        Assert.Equal(SdkStreamConnection.QueueCapacity, drained);
        Assert.True(healthy.TryRead(out _));
    }

    [Fact]
    public async Task The_writer_ends_when_the_sdk_goes_away_and_the_stream_leaves_the_hub()
    {
        var context = new DefaultHttpContext();
        context.Response.Body = new MemoryStream();
        using var aborted = new CancellationTokenSource();
        var connection = _hub.Connect(Environment);
        Assert.Equal(1, _hub.ConnectionCount);

        var writer = SdkStreamWriter.RunAsync(context.Response, connection, TimeProvider.System, aborted.Token);
        Assert.True(connection.TryEnqueue(SdkStreamHub.Frame(new StreamMessage { Event = "create", Domain = "flag", Identifier = "a", Environment = Environment })));
        await Eventually.TrueAsync(() => Task.FromResult(context.Response.Body.Length > 0), Within, "the queued frame is written");
        Assert.False(writer.IsCompleted);

        await aborted.CancelAsync();
        await writer.WaitAsync(Within);
        connection.Dispose();
        Assert.Equal(0, _hub.ConnectionCount);
        Assert.StartsWith("event: *\ndata: {", System.Text.Encoding.UTF8.GetString(((MemoryStream)context.Response.Body).ToArray()), StringComparison.Ordinal);
    }
}

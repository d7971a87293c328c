using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;
using System.Text.Json;
using System.Threading.Tasks.Sources;
using FfProxy.Core.Domain;
using Microsoft.Extensions.Logging;

namespace FfProxy.Core.Sdk;

/// <summary>
/// The SDK streams this process holds, grouped by environment (what Pushpin channels were in the Go proxy).
/// A publish serialises the SSE frame once and queues it on every connection of the environment.
/// </summary>
public sealed partial class SdkStreamHub
{
    private readonly ConcurrentDictionary<string, ConcurrentDictionary<SdkStreamConnection, byte>> _byEnvironment = new(StringComparer.Ordinal);
    private readonly ProxyMetrics _metrics;
    private readonly ILogger<SdkStreamHub> _logger;
    private int _count;

    private readonly TimeProvider _time;

    public SdkStreamHub(ProxyMetrics metrics, TimeProvider time, ILogger<SdkStreamHub> logger)
    {
        _metrics = metrics;
        _time = time;
        _logger = logger;
        metrics.ObserveConnectedStreams(() => ConnectionCount);
    }

    /// <summary>Connected SDK streams in this process.</summary>
    public int ConnectionCount => Volatile.Read(ref _count);

    public SdkStreamConnection Connect(string environment)
    {
        var connection = new SdkStreamConnection(environment, this, _time.GetTimestamp());
        _byEnvironment.GetOrAdd(environment, static _ => new()).TryAdd(connection, 0);
        Interlocked.Increment(ref _count);
        return connection;
    }

    /// <summary>Queues one <c>event: *</c> frame on every stream of the message's environment.</summary>
    public int Publish(StreamMessage message)
    {
        var delivered = PublishFrame(message.Environment, Frame(message));
        _metrics.RecordSdkEventPublished(message.Environment);
        LogPublished(_logger, message.Event, message.Domain, message.Identifier, message.Environment, delivered);
        return delivered;
    }

    /// <summary>
    /// Queues a ready frame on every stream connected under <paramref name="environment"/> (the Gateway's relay uses
    /// one such channel per upstream feed); a stream whose queue is full is ended.
    /// </summary>
    public int PublishFrame(string environment, byte[] frame)
    {
        var delivered = 0;
        if (_byEnvironment.TryGetValue(environment, out var connections))
        {
            // Enumerating the dictionary itself takes no lock and copies nothing (.Keys would copy 10,000 entries).
            foreach (var (connection, _) in connections)
            {
                if (connection.TryEnqueue(frame))
                {
                    delivered++;
                }
                else
                {
                    LogSlowClient(_logger, environment);
                    connection.Complete();
                }
            }
        }

        return delivered;
    }

    /// <summary>Ends every stream of an environment; SDKs reconnect (and poll while they cannot).</summary>
    public void Close(string environment)
    {
        if (_byEnvironment.TryGetValue(environment, out var connections))
        {
            foreach (var (connection, _) in connections)
            {
                connection.Complete();
            }

            LogClosed(_logger, environment, connections.Count);
        }
    }

    public void CloseAll()
    {
        foreach (var environment in _byEnvironment.Keys)
        {
            Close(environment);
        }
    }

    /// <summary>The SSE bytes for one change: <c>event: *</c>, one-line JSON <c>data:</c>, blank line.</summary>
    public static byte[] Frame(StreamMessage message)
    {
        var json = JsonSerializer.SerializeToUtf8Bytes(message, ProxyJsonContext.Default.StreamMessage);
        var frame = new byte[EventPrefix.Length + json.Length + 2];
        EventPrefix.CopyTo(frame);
        json.CopyTo(frame.AsSpan(EventPrefix.Length));
        frame[^2] = (byte)'\n';
        frame[^1] = (byte)'\n';
        return frame;
    }

    private static ReadOnlySpan<byte> EventPrefix => "event: *\ndata: "u8;

    /// <summary>
    /// Queues the keep-alive comment on every stream that wrote nothing since <paramref name="quietSince"/> (a
    /// <see cref="TimeProvider"/> timestamp); one shared ticker does this instead of a timer per stream.
    /// </summary>
    internal int EnqueueHeartbeats(long quietSince)
    {
        var queued = 0;
        foreach (var (_, connections) in _byEnvironment)
        {
            foreach (var (connection, _) in connections)
            {
                if (connection.LastWrite <= quietSince && connection.TryEnqueue(SdkStreamFrames.HeartbeatFrame))
                {
                    queued++;
                }
            }
        }

        return queued;
    }

    internal void Remove(SdkStreamConnection connection)
    {
        if (_byEnvironment.TryGetValue(connection.Environment, out var connections) && connections.TryRemove(connection, out _))
        {
            Interlocked.Decrement(ref _count);
        }
    }

    [LoggerMessage(EventId = LogEventIds.Sdk.Published, Level = LogLevel.Debug, Message = "Published {Event} {Domain} {Identifier} to {Connections} SDK streams of environment {Environment}")]
    private static partial void LogPublished(ILogger logger, string @event, string domain, string identifier, string environment, int connections);

    [LoggerMessage(EventId = LogEventIds.Sdk.Closed, Level = LogLevel.Information, Message = "Closed {Connections} SDK streams of environment {Environment}")]
    private static partial void LogClosed(ILogger logger, string environment, int connections);

    [LoggerMessage(EventId = LogEventIds.Sdk.SlowClient, Level = LogLevel.Warning, Message = "An SDK stream of environment {Environment} fell behind and was closed")]
    private static partial void LogSlowClient(ILogger logger, string environment);
}

/// <summary>
/// One SDK's stream: a bounded queue of frames and the one waiting writer loop. It replaces a
/// <c>Channel&lt;byte[]&gt;</c>, which cost about 1 KB per idle stream (channel, reader, writer, deque, lock and a
/// waiter object per wait); at 10,000 streams that was 10 MB for queues that hold nothing nearly all the time.
/// </summary>
public sealed class SdkStreamConnection : IValueTaskSource<bool>, IDisposable
{
    // Enough for a burst of changes; a client that falls this far behind is cut off and reconnects.
    internal const int QueueCapacity = 256;

    private readonly Queue<byte[]> _frames = new();   // also the lock for _waiting and _completed
    private readonly SdkStreamHub _hub;
    private ManualResetValueTaskSourceCore<bool> _waiter = new() { RunContinuationsAsynchronously = true };
    private bool _waiting;
    private bool _completed;
    private long _lastWrite;

    internal SdkStreamConnection(string environment, SdkStreamHub hub, long connectedAt)
    {
        Environment = environment;
        _hub = hub;
        _lastWrite = connectedAt;
    }

    public string Environment { get; }

    /// <summary>When the stream last sent bytes to its SDK (a <see cref="TimeProvider"/> timestamp).</summary>
    internal long LastWrite => Volatile.Read(ref _lastWrite);

    /// <summary>Records that bytes went out, so the shared heartbeat ticker leaves this stream alone for a while.</summary>
    public void Wrote(long timestamp) => Volatile.Write(ref _lastWrite, timestamp);

    /// <summary>
    /// Queues a frame; false only when the queue is full (the SDK fell behind). A stream that is ending takes the
    /// frame and drops it: it is not a slow client.
    /// </summary>
    internal bool TryEnqueue(byte[] frame)
    {
        lock (_frames)
        {
            if (_completed)
            {
                return true;
            }

            if (_frames.Count >= QueueCapacity)
            {
                return false;
            }

            _frames.Enqueue(frame);
            if (!_waiting)
            {
                return true;
            }

            _waiting = false;
        }

        _waiter.SetResult(true);
        return true;
    }

    /// <summary>Ends the stream once the frames already queued are written.</summary>
    internal void Complete()
    {
        lock (_frames)
        {
            if (_completed)
            {
                return;
            }

            _completed = true;
            if (!_waiting)
            {
                return;
            }

            _waiting = false;
        }

        _waiter.SetResult(false);
    }

    /// <summary>
    /// True when a frame is queued, false when the stream ended and its queue is empty. One reader at a time (the
    /// stream's writer loop); the wait holds no timer, cancellation registration or allocation of its own.
    /// </summary>
    public ValueTask<bool> WaitToReadAsync()
    {
        lock (_frames)
        {
            if (_frames.Count > 0)
            {
                return new ValueTask<bool>(true);
            }

            if (_completed)
            {
                return new ValueTask<bool>(false);
            }

            _waiter.Reset();
            _waiting = true;
            return new ValueTask<bool>(this, _waiter.Version);
        }
    }

    public bool TryRead([MaybeNullWhen(false)] out byte[] frame)
    {
        lock (_frames)
        {
            return _frames.TryDequeue(out frame);
        }
    }

    bool IValueTaskSource<bool>.GetResult(short token) => _waiter.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource<bool>.GetStatus(short token) => _waiter.GetStatus(token);

    void IValueTaskSource<bool>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _waiter.OnCompleted(continuation, state, token, flags);

    public void Dispose()
    {
        Complete();
        _hub.Remove(this);
    }
}

/// <summary>Wire constants of the SDK stream.</summary>
internal static class SdkStreamFrames
{
    /// <summary>The keep-alive comment, written and flushed on its own (SDKs drop chunks that start with ':').</summary>
    public static ReadOnlySpan<byte> Heartbeat => ":\n\n"u8;

    /// <summary>The keep-alive comment as one shared array, so queueing it on 10,000 streams allocates nothing.</summary>
    internal static readonly byte[] HeartbeatFrame = Heartbeat.ToArray();

    /// <summary>True for the shared keep-alive array (compared by reference).</summary>
    public static bool IsHeartbeat(byte[] frame) => ReferenceEquals(frame, HeartbeatFrame);
}

/// <summary>How long a quiet SDK stream waits before a keep-alive comment (Pushpin used 15 s; SDKs give up after 30 s).</summary>
internal sealed record SdkStreamSettings(TimeSpan Heartbeat);

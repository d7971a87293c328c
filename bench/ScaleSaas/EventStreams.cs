using System.Collections.Concurrent;
using System.Text;
using System.Threading.Channels;

namespace FfProxy.Bench.ScaleSaas;

/// <summary>
/// The account SSE streams (spec §3.4): a comment at once (the Primary counts the first line read as connected),
/// heartbeats while quiet, change events as <c>event: *</c> frames. An outage ends every open stream and
/// refuses new ones with 503 until it is over.
/// </summary>
public sealed class EventStreams(TimeSpan heartbeat, RouteStats stats)
{
    private static readonly byte[] Comment = ":\n\n"u8.ToArray();
    private readonly ConcurrentDictionary<Channel<byte[]>, byte> _open = new();
    private volatile bool _refusing;

    public int Open => _open.Count;

    public bool Refusing => _refusing;

    public void Send(string json)
    {
        var frame = Encoding.UTF8.GetBytes("event: *\ndata: " + json + "\n\n");
        foreach (var subscriber in _open.Keys)
        {
            subscriber.Writer.TryWrite(frame);
        }
    }

    /// <summary>Refuses new streams and ends the open ones cleanly (EOF), as a SaaS deploy does.</summary>
    public void BeginOutage()
    {
        _refusing = true;
        foreach (var subscriber in _open.Keys)
        {
            subscriber.Writer.TryComplete();
        }
    }

    public void EndOutage() => _refusing = false;

    public async Task ServeAsync(HttpContext context)
    {
        if (_refusing)
        {
            stats.Count("stream-refused");
            context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
            return;
        }

        stats.Count("stream");
        stats.Mark("stream-opened");
        var frames = Channel.CreateUnbounded<byte[]>(new UnboundedChannelOptions { SingleReader = true });
        _open.TryAdd(frames, 0);
        var aborted = context.RequestAborted;
        try
        {
            context.Response.ContentType = "text/event-stream";
            context.Response.Headers.CacheControl = "no-cache";
            await context.Response.Body.WriteAsync(Comment, aborted);
            await context.Response.Body.FlushAsync(aborted);
            while (!aborted.IsCancellationRequested)
            {
                using var quiet = CancellationTokenSource.CreateLinkedTokenSource(aborted);
                quiet.CancelAfter(heartbeat);
                try
                {
                    if (!await frames.Reader.WaitToReadAsync(quiet.Token))
                    {
                        return; // outage: a clean end of the stream
                    }
                }
                catch (OperationCanceledException) when (!aborted.IsCancellationRequested)
                {
                    await context.Response.Body.WriteAsync(Comment, aborted);
                    await context.Response.Body.FlushAsync(aborted);
                    continue;
                }

                while (frames.Reader.TryRead(out var frame))
                {
                    await context.Response.Body.WriteAsync(frame, aborted);
                }

                await context.Response.Body.FlushAsync(aborted);
            }
        }
        catch (OperationCanceledException)
        {
            // The Primary went away.
        }
        finally
        {
            _open.TryRemove(frames, out _);
        }
    }
}

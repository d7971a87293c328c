using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using Microsoft.AspNetCore.Http;

namespace FfProxy.Tests.Fakes;

/// <summary>The account SSE stream (spec §3.3): heartbeats, the §3.4 events each scripting call announces, drops.</summary>
public sealed partial class FakeSaas
{
    private readonly ConcurrentDictionary<Subscriber, byte> _streams = new();

    public int OpenStreams => _streams.Count;

    public TimeSpan HeartbeatInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Ends every open account stream cleanly (EOF), as a SaaS deploy does.</summary>
    public void DropStreams()
    {
        foreach (var subscriber in _streams.Keys)
        {
            subscriber.Frames.Writer.TryComplete();
        }
    }

    public async Task WaitForStreamAsync(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!_streams.Keys.Any(s => s.Started))
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException("no account stream was opened");
            }

            await Task.Delay(20);
        }
    }

    private async Task Stream(HttpContext context)
    {
        var issued = Authorize(context);
        if (issued is null || context.Request.Headers["API-Key"] != issued.ProxyKey || context.Request.Headers["Harness-AccountID"] != Account)
        {
            context.Response.StatusCode = 401;
            return;
        }

        if (RefuseStreams)
        {
            context.Response.StatusCode = 503;
            return;
        }

        var subscriber = new Subscriber(issued.ProxyKey);
        _streams.TryAdd(subscriber, 0);
        try
        {
            context.Response.ContentType = "text/event-stream";
            context.Response.Headers.CacheControl = "no-cache";
            var aborted = context.RequestAborted;
            await context.Response.WriteAsync(":\n\n", aborted);
            await context.Response.Body.FlushAsync(aborted);
            subscriber.Started = true;
            while (!aborted.IsCancellationRequested)
            {
                using var heartbeat = CancellationTokenSource.CreateLinkedTokenSource(aborted);
                heartbeat.CancelAfter(HeartbeatInterval);
                string frame;
                try
                {
                    if (!await subscriber.Frames.Reader.WaitToReadAsync(heartbeat.Token))
                    {
                        return; // dropped: a clean end of the stream
                    }

                    frame = await subscriber.Frames.Reader.ReadAsync(heartbeat.Token);
                }
                catch (OperationCanceledException) when (!aborted.IsCancellationRequested)
                {
                    frame = ":\n\n";
                }

                await context.Response.WriteAsync(frame, aborted);
                await context.Response.Body.FlushAsync(aborted);
            }
        }
        catch (OperationCanceledException)
        {
            // The proxy went away.
        }
        finally
        {
            _streams.TryRemove(subscriber, out _);
        }
    }

    private static JsonObject ItemEvent(string @event, string domain, string id, long version, string environment) => new()
    {
        ["event"] = @event,
        ["domain"] = domain,
        ["identifier"] = id,
        ["version"] = version,
        ["environment"] = environment,
    };

    private static JsonObject ProxyEvent(string @event, List<string> environments, string? apiKey = null)
    {
        var message = new JsonObject
        {
            ["event"] = @event,
            ["domain"] = "proxy",
            ["environments"] = new JsonArray([.. environments.Select(e => (JsonNode)e)]),
        };
        if (apiKey is not null)
        {
            message["apiKey"] = apiKey;
        }

        return message;
    }

    private void SendToEnvironment(string environment, JsonObject message)
    {
        List<string> keys;
        lock (_gate)
        {
            keys = [.. _proxyKeys.Where(k => k.Value.Environments.Contains(environment)).Select(k => k.Key)];
        }

        foreach (var key in keys)
        {
            SendToKey(key, message);
        }
    }

    private void SendToKey(string proxyKey, JsonObject message)
    {
        var frame = "event: *\ndata: " + message.ToJsonString() + "\n\n";
        foreach (var subscriber in _streams.Keys.Where(s => s.ProxyKey == proxyKey))
        {
            subscriber.Frames.Writer.TryWrite(frame);
        }
    }

    private sealed class Subscriber(string proxyKey)
    {
        public string ProxyKey { get; } = proxyKey;
        public Channel<string> Frames { get; } = Channel.CreateUnbounded<string>();
        public bool Started { get; set; }
    }
}

using System.Buffers;
using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using FfProxy.Core.Sdk;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core.Features;
using Microsoft.Extensions.Primitives;
using Yarp.ReverseProxy;
using Yarp.ReverseProxy.Configuration;
using Yarp.ReverseProxy.Forwarder;

namespace FfProxy.Gateway;

/// <summary>
/// <c>GET /stream</c> at the Gateway, held the way Pushpin held it for the Go proxy: every SDK stream is a
/// connection of the Gateway's own <see cref="SdkStreamHub"/>, fed by one upstream stream per upstream and SDK key
/// (<see cref="UpstreamFeed"/>), instead of a forwarded connection per SDK. A forwarded stream held an upstream
/// HTTP/1.1 connection with its two 4 KB buffers and YARP's request state (31 KB per stream, as much as bare YARP);
/// a held one is Kestrel's SDK-side connection and a small queue, and the Replica behind holds one stream per feed.
/// </summary>
/// <remarks>
/// Each SDK's own request still goes to the upstream its token is pinned to (<see cref="SdkTokenAffinity"/>), so the
/// upstream checks its token and key, and the SDK gets that upstream's status and headers (CORS included). With a feed
/// of that upstream and key open, the request is a <see cref="SdkStreamCheck"/> (empty answer, pooled connection) and
/// a <c>200</c> joins the SDK to the feed; otherwise the upstream's stream becomes the feed. Frames therefore come from
/// the upstream the SDK's refetches go to. A feed ends when its upstream stream ends or breaks, or its last SDK leaves;
/// its SDKs' streams then end and they reconnect.
/// </remarks>
internal sealed partial class SdkStreamRelay(
    IProxyStateLookup proxyState,
    IForwarderHttpClientFactory clientFactory,
    SdkTokenAffinity affinity,
    UpstreamHealth health,
    SdkStreamHub hub,
    GatewayOptions options,
    TimeProvider time,
    ILogger<SdkStreamRelay> logger)
{
    private readonly SdkStreamHub _hub = hub;
    private readonly TimeSpan _idleTimeout = options.StreamIdleTimeout;
    private readonly TimeSpan _requestTimeout = options.RequestTimeout;
    private readonly ILogger _logger = logger;

    private static readonly HashSet<string> HopByHop = new(StringComparer.OrdinalIgnoreCase)
    {
        "Connection", "Keep-Alive", "Transfer-Encoding", "Upgrade", "Proxy-Connection", "Proxy-Authenticate", "Proxy-Authorization", "TE", "Trailer", "Host",
    };

    private readonly ConcurrentDictionary<string, UpstreamFeed> _feeds = new(StringComparer.Ordinal);
    private readonly Lazy<HttpMessageInvoker> _client = new(() => clientFactory.CreateClient(new ForwarderHttpClientContext
    {
        ClusterId = FailoverForwarderClientFactory.StreamRelayClient,
        OldConfig = HttpClientConfig.Empty,
        OldMetadata = null,
        OldClient = null,
        NewConfig = HttpClientConfig.Empty,
        NewMetadata = null,
    }));

    public async Task Stream(HttpContext context)
    {
        // Opening and holding are separate methods so that the held stream keeps none of the opening's objects
        // (the upstream request and response, their headers) for its lifetime.
        if (await OpenAsync(context).ConfigureAwait(false) is not var (feed, connection))
        {
            return;
        }

        try
        {
            await SdkStreamWriter.RunAsync(context.Response, connection, time, context.RequestAborted).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The SDK went away.
        }
        finally
        {
            connection.Dispose();
            feed.Leave();
        }
    }

    /// <summary>
    /// Sends the SDK's request to its upstream and answers with that upstream's status and headers; returns the
    /// feed the SDK joined when the answer is an event stream, null when the request was answered in full.
    /// </summary>
    private async Task<(UpstreamFeed Feed, SdkStreamConnection Connection)?> OpenAsync(HttpContext context)
    {
        if (!proxyState.TryGetCluster(SdkRouting.ClusterId, out var cluster)
            || affinity.PickDestination(context, cluster, cluster.DestinationsState.AvailableDestinations) is not { } destination)
        {
            await SdkRouting.WriteMessageAsync(context, StatusCodes.Status503ServiceUnavailable, SdkRouting.NoHealthyUpstream).ConfigureAwait(false);
            return null;
        }

        // With a feed of this upstream and key open, the upstream only checks the SDK's request and answers its
        // headers with an empty body (SdkStreamCheck), over a pooled connection; otherwise it opens a real stream,
        // which becomes the feed. Opening and closing a stream per SDK that joins a feed, as before, cost the upstream
        // a connection per join and the Gateway 3 KB of resident memory per stream in garbage.
        var keyDigest = KeyDigest(context.Request.Headers["API-Key"].ToString());
        var check = _feeds.TryGetValue(FeedKey(destination.DestinationId, keyDigest), out var open) && open.IsOpen;
        while (true)
        {
            HttpResponseMessage upstream;
            using (var answerWithin = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted))
            {
                // Like every forwarded request, the answer (status and headers) must come within the request timeout.
                answerWithin.CancelAfter(_requestTimeout);
                try
                {
                    upstream = await _client.Value.SendAsync(UpstreamRequest(context, destination.Model.Config.Address, check), answerWithin.Token).ConfigureAwait(false);
                }
                catch (HttpRequestException ex) when (!context.RequestAborted.IsCancellationRequested)
                {
                    // The failover handler already tried every healthy upstream.
                    LogUpstreamFailed(_logger, ex.HttpRequestError);
                    context.Response.StatusCode = StatusCodes.Status502BadGateway;
                    return null;
                }
                catch (OperationCanceledException) when (!context.RequestAborted.IsCancellationRequested)
                {
                    await SdkRouting.WriteMessageAsync(context, StatusCodes.Status504GatewayTimeout, SdkRouting.UpstreamTimedOut).ConfigureAwait(false);
                    return null;
                }
                catch (OperationCanceledException)
                {
                    return null;   // the SDK went away
                }
            }

            var adopted = false;
            try
            {
                var response = context.Response;
                if (!upstream.IsSuccessStatusCode || upstream.Content.Headers.ContentType?.MediaType != "text/event-stream")
                {
                    Answer(response, upstream, checkAnswered: false);
                    await upstream.Content.CopyToAsync(response.Body, context.RequestAborted).ConfigureAwait(false);
                    return null;
                }

                // Fed by the feed of the upstream that answered (after a failover, not necessarily the one picked).
                var answering = health.DestinationOf(upstream.RequestMessage?.RequestUri) ?? destination;
                var key = FeedKey(answering.DestinationId, keyDigest);
                (UpstreamFeed Feed, SdkStreamConnection Connection) joined;
                var checkAnswered = SdkStreamCheck.Answered(upstream);
                if (checkAnswered)
                {
                    if (!_feeds.TryGetValue(key, out var feed) || !feed.TryJoin(out var connection))
                    {
                        // The feed ended meanwhile, or another upstream answered: open a real stream there.
                        check = false;
                        destination = answering;
                        continue;
                    }

                    joined = (feed, connection!);
                }
                else
                {
                    joined = Join(key, upstream);
                    adopted = joined.Feed.Owns(upstream);
                }

                Answer(response, upstream, checkAnswered);
                context.Request.Headers.Clear();   // nothing reads them any more; the token alone is ~0.7 KB
                context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
                if (context.Features.Get<IHttpMinResponseDataRateFeature>() is { } rate)
                {
                    rate.MinDataRate = null;
                }

                return joined;
            }
            finally
            {
                if (!adopted)
                {
                    upstream.Dispose();   // answered in full, a check, or the SDK's own stream whose frames its feed carries
                }
            }
        }
    }

    /// <summary>The upstream's status and headers, as the SDK gets them (a check's answer header is the relay's own).</summary>
    private static void Answer(HttpResponse response, HttpResponseMessage upstream, bool checkAnswered)
    {
        response.StatusCode = (int)upstream.StatusCode;
        CopyHeaders(upstream.Headers, response.Headers);
        CopyHeaders(upstream.Content.Headers, response.Headers);
        if (checkAnswered)
        {
            response.Headers.Remove(SdkStreamCheck.Header);
        }
    }

    /// <summary>
    /// The feed this SDK joins: the open one of its upstream and key, or a new one started from the SDK's own
    /// upstream stream, which the feed then owns (otherwise the caller closes it).
    /// </summary>
    private (UpstreamFeed Feed, SdkStreamConnection Connection) Join(string key, HttpResponseMessage upstream)
    {
        while (true)
        {
            var open = _feeds.GetValueOrDefault(key);
            if (open is not null && open.TryJoin(out var joined))
            {
                return (open, joined!);
            }

            // None, or it is ending: this SDK's stream becomes the feed. Joined before anyone else can see it, so it
            // cannot end (its last member leaving) before this SDK is in.
            var feed = new UpstreamFeed(this, key, upstream);
            feed.TryJoin(out var first);
            if (open is null ? _feeds.TryAdd(key, feed) : _feeds.TryUpdate(key, feed, open))
            {
                feed.Start();
                return (feed, first!);
            }

            first!.Dispose();
            feed.Dispose();
        }
    }

    private static HttpRequestMessage UpstreamRequest(HttpContext context, string address, bool check)
    {
        var incoming = context.Request;
        var request = new HttpRequestMessage(HttpMethod.Get, address.TrimEnd('/') + incoming.Path.Value + incoming.QueryString.Value)
        {
            Version = System.Net.HttpVersion.Version11,
            VersionPolicy = HttpVersionPolicy.RequestVersionOrLower,
        };
        foreach (var (name, values) in incoming.Headers)
        {
            if (!HopByHop.Contains(name) && !name.StartsWith("X-Forwarded-", StringComparison.OrdinalIgnoreCase)
                && !string.Equals(name, SdkStreamCheck.Header, StringComparison.OrdinalIgnoreCase))
            {
                request.Headers.TryAddWithoutValidation(name, (IEnumerable<string?>)values);
            }
        }

        if (check)
        {
            request.Headers.TryAddWithoutValidation(SdkStreamCheck.Header, SdkStreamCheck.Asked);
        }

        // What YARP's default transforms add to every other forwarded request.
        request.Headers.TryAddWithoutValidation("X-Forwarded-For", context.Connection.RemoteIpAddress?.ToString());
        request.Headers.TryAddWithoutValidation("X-Forwarded-Proto", incoming.Scheme);
        request.Headers.TryAddWithoutValidation("X-Forwarded-Host", incoming.Host.Value);
        return request;
    }

    private static void CopyHeaders(System.Net.Http.Headers.HttpHeaders from, IHeaderDictionary to)
    {
        foreach (var (name, values) in from)
        {
            // Kestrel writes its own Date (a shared string) and the length of what it sends.
            if (!HopByHop.Contains(name) && !string.Equals(name, "Content-Length", StringComparison.OrdinalIgnoreCase)
                && !string.Equals(name, "Date", StringComparison.OrdinalIgnoreCase))
            {
                var array = values as string[] ?? values.ToArray();
                to[name] = array.Length != 1 ? new StringValues(array)
                    : string.Equals(name, RequestIds.Header, StringComparison.OrdinalIgnoreCase) ? new StringValues(array[0])   // unique per request
                    : new StringValues(Shared(array[0]));
            }
        }
    }

    /// <summary>
    /// One string for each of the few header values every stream response repeats (content type, cache control,
    /// CORS answers for a site's origin), instead of a copy held by every stream. Bounded: values past the limit are
    /// held as they come.
    /// </summary>
    private static string Shared(string value)
    {
        if (value.Length > 256)
        {
            return value;
        }

        if (SharedValues.TryGetValue(value, out var shared))
        {
            return shared;
        }

        return SharedValues.Count < 1024 ? SharedValues.GetOrAdd(value, value) : value;
    }

    private static readonly ConcurrentDictionary<string, string> SharedValues = new(StringComparer.Ordinal);

    /// <summary>A digest of the SDK key that names its feeds: the key itself is a secret and never a log's text.</summary>
    private static string KeyDigest(string apiKey) => Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(apiKey)), 0, 8);

    private static string FeedKey(string destinationId, string keyDigest) => destinationId + " " + keyDigest;

    private void Remove(UpstreamFeed feed) => _feeds.TryRemove(KeyValuePair.Create(feed.Key, feed));

    [LoggerMessage(EventId = LogEventIds.Gateway.StreamUpstreamFailed, Level = LogLevel.Warning, Message = "No upstream answered an SDK stream request ({Error})")]
    private static partial void LogUpstreamFailed(ILogger logger, HttpRequestError error);

    [LoggerMessage(EventId = LogEventIds.Gateway.FeedEnded, Level = LogLevel.Information, Message = "SDK stream feed {Feed} ended ({Reason}); its SDK streams end and reconnect")]
    private static partial void LogFeedEnded(ILogger logger, string feed, string reason);

    /// <summary>
    /// One upstream SSE stream whose frames go to every SDK stream joined to it. Keep-alive comments are the
    /// upstream's own and are dropped: the Gateway's <see cref="SdkStreamHeartbeat"/> keeps its SDK streams alive.
    /// </summary>
    private sealed class UpstreamFeed(SdkStreamRelay relay, string key, HttpResponseMessage upstream) : IDisposable
    {
        /// <summary>Far above any frame a Replica sends (a one-line JSON event); past it the upstream is not speaking SSE.</summary>
        private const int MaxFrameBytes = 1 << 20;

        private static int s_next;
        private readonly CancellationTokenSource _stop = new();
        private readonly object _lock = new();
        private int _members;
        private bool _ended;

        public string Key { get; } = key;

        /// <summary>The hub's channel: unique per feed, so ending one never ends the streams of its replacement.</summary>
        private string Channel { get; } = key + " #" + Interlocked.Increment(ref s_next).ToString(System.Globalization.CultureInfo.InvariantCulture);

        /// <summary>Not ended (a join may still fail if it ends meanwhile).</summary>
        public bool IsOpen => !Volatile.Read(ref _ended);

        public bool TryJoin(out SdkStreamConnection? connection)
        {
            lock (_lock)
            {
                if (_ended)
                {
                    connection = null;
                    return false;
                }

                _members++;
                connection = relay._hub.Connect(Channel);
                return true;
            }
        }

        public void Leave()
        {
            lock (_lock)
            {
                if (--_members > 0 || _ended)
                {
                    return;
                }

                _ended = true;
            }

            _stop.Cancel();
        }

        /// <summary>
        /// Releases the stop signal of a feed that was never started (it lost a race to join). A started feed keeps
        /// it: <see cref="Leave"/> may cancel after the feed ended, and it holds no timer.
        /// </summary>
        public void Dispose() => _stop.Dispose();

        public bool Owns(HttpResponseMessage response) => ReferenceEquals(response, upstream);

        public void Start() => _ = Task.Run(RunAsync);

        private async Task RunAsync()
        {
            var reason = "the upstream ended it";
            var buffer = ArrayPool<byte>.Shared.Rent(4096);
            var filled = 0;
            try
            {
                using var idle = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
                await using var body = await upstream.Content.ReadAsStreamAsync(_stop.Token).ConfigureAwait(false);
                while (true)
                {
                    if (filled == buffer.Length)
                    {
                        if (buffer.Length >= MaxFrameBytes)
                        {
                            reason = "the upstream sent no frame end within 1 MiB";
                            break;
                        }

                        var larger = ArrayPool<byte>.Shared.Rent(buffer.Length * 2);
                        buffer.AsSpan(0, filled).CopyTo(larger);
                        ArrayPool<byte>.Shared.Return(buffer);
                        buffer = larger;
                    }

                    idle.CancelAfter(relay._idleTimeout);
                    var read = await body.ReadAsync(buffer.AsMemory(filled), idle.Token).ConfigureAwait(false);
                    if (read == 0)
                    {
                        break;
                    }

                    filled += read;
                    var consumed = PublishFrames(buffer.AsSpan(0, filled));
                    buffer.AsSpan(consumed, filled - consumed).CopyTo(buffer);
                    filled -= consumed;
                }
            }
            catch (OperationCanceledException)
            {
                reason = _stop.IsCancellationRequested ? "no SDK left" : "the upstream was silent too long";
            }
            catch (Exception ex) when (ex is IOException or HttpRequestException or ObjectDisposedException)
            {
                reason = "the upstream connection failed";
            }
            finally
            {
                lock (_lock)
                {
                    _ended = true;
                }

                relay.Remove(this);
                relay._hub.Close(Channel);
                upstream.Dispose();
                ArrayPool<byte>.Shared.Return(buffer);
                LogFeedEnded(relay._logger, Key, reason);
            }
        }

        /// <summary>Publishes each complete frame (ended by a blank line); returns the bytes consumed.</summary>
        private int PublishFrames(ReadOnlySpan<byte> data)
        {
            var consumed = 0;
            int end;
            while ((end = data[consumed..].IndexOf("\n\n"u8)) >= 0)
            {
                var frame = data.Slice(consumed, end + 2);
                if (frame[0] != (byte)':')
                {
                    relay._hub.PublishFrame(Channel, frame.ToArray());
                }

                consumed += end + 2;
            }

            return consumed;
        }
    }
}

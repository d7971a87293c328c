using System.Net;
using System.Net.Http.Headers;
using Yarp.ReverseProxy;
using Yarp.ReverseProxy.Forwarder;
using Yarp.ReverseProxy.Health;
using Yarp.ReverseProxy.Model;

namespace FfProxy.Gateway;

/// <summary>
/// YARP's forwarder client with <see cref="UpstreamFailoverHandler"/> in front of the sockets handler: YARP itself
/// never retries, so a Replica that dies would answer every request still routed to it with a 502. Without traces
/// (<c>OTEL_EXPORTER_OTLP_ENDPOINT</c> unset) the client propagates no trace headers: that takes HttpClient's
/// diagnostics handler, an Activity and a header per forwarded request off the hot path.
/// </summary>
internal sealed class FailoverForwarderClientFactory(UpstreamHealth health, IConfiguration configuration, ILogger<UpstreamFailoverHandler> logger)
    : ForwarderHttpClientFactory
{
    /// <summary>The client of <see cref="SdkStreamRelay"/>, told apart by this cluster id in its context.</summary>
    public const string StreamRelayClient = "sdk-stream-relay";

    private readonly bool _tracing = !string.IsNullOrWhiteSpace(configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]);

    protected override void ConfigureHandler(ForwarderHttpClientContext context, SocketsHttpHandler handler)
    {
        base.ConfigureHandler(context, handler);
        if (!_tracing)
        {
            handler.ActivityHeadersPropagator = null;
        }

        if (context.ClusterId == StreamRelayClient)
        {
            // The relay closes an SDK's own upstream stream once it joined a feed. Drained instead (the default), an
            // event stream that never ends kept its connection and two 4 KB buffers: 7,000 of them after 10,000 joins.
            handler.MaxResponseDrainSize = 0;
        }
    }

    protected override HttpMessageHandler WrapHandler(ForwarderHttpClientContext context, HttpMessageHandler handler) =>
        new UpstreamFailoverHandler(health, logger) { InnerHandler = base.WrapHandler(context, handler) };
}

/// <summary>
/// When the connection to an upstream fails before any response came back, the upstream is marked down at once
/// and a request without a body (GET, the stream's initial request) is sent again to another healthy upstream;
/// nothing has reached the SDK yet, so it cannot tell. An SSE stream whose upstream dies later ends as a normal end
/// of stream (not a reset), which SDKs answer by reconnecting — through the Gateway, to a live upstream.
/// </summary>
/// <remarks>
/// The failed upstream is found from the request's address, only once a connection failed: reading it from the
/// request's HttpContext would need an <see cref="IHttpContextAccessor"/>, an async-local write per request.
/// </remarks>
internal sealed partial class UpstreamFailoverHandler(UpstreamHealth health, ILogger<UpstreamFailoverHandler> logger)
    : DelegatingHandler
{
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        DestinationState? destination = null;
        List<DestinationState>? tried = null;   // only when an upstream failed: none on the hot path
        while (true)
        {
            try
            {
                var response = await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
                return IsEventStream(response) ? EndStreamOnUpstreamLoss(response) : response;
            }
            catch (HttpRequestException ex) when (UpstreamHealth.IsConnectionFailure(ex) && !cancellationToken.IsCancellationRequested)
            {
                destination ??= health.DestinationOf(request.RequestUri);
                if (destination is null)
                {
                    throw;   // an address that is none of the upstreams': nothing to fail over from
                }

                health.MarkDown(destination);
                (tried ??= []).Add(destination);
                var next = request.Content is null ? health.PickOther(tried) : null;
                if (next is null)
                {
                    throw;
                }

                LogRetry(logger, request.Method.Method, request.RequestUri?.AbsolutePath ?? "", destination.DestinationId, next.DestinationId, ex.HttpRequestError);
                request = Redirect(request, destination, next);
                destination = next;
            }
        }
    }

    private static bool IsEventStream(HttpResponseMessage response) =>
        response.IsSuccessStatusCode && response.Content.Headers.ContentType?.MediaType == "text/event-stream";

    private static HttpResponseMessage EndStreamOnUpstreamLoss(HttpResponseMessage response)
    {
        response.Content = new UpstreamLossEndsContent(response.Content);
        return response;
    }

    /// <summary>The same bodiless request for another upstream (a sent request message cannot be sent again).</summary>
    private static HttpRequestMessage Redirect(HttpRequestMessage request, DestinationState from, DestinationState to)
    {
        var uri = request.RequestUri!.AbsoluteUri;
        var fromPrefix = from.Model.Config.Address.TrimEnd('/');
        var rest = uri.StartsWith(fromPrefix, StringComparison.OrdinalIgnoreCase) ? uri[fromPrefix.Length..] : request.RequestUri.PathAndQuery;
        var copy = new HttpRequestMessage(request.Method, to.Model.Config.Address.TrimEnd('/') + rest)
        {
            Version = request.Version,
            VersionPolicy = request.VersionPolicy,
        };
        foreach (var header in request.Headers)
        {
            if (!string.Equals(header.Key, "Host", StringComparison.OrdinalIgnoreCase))
            {
                copy.Headers.TryAddWithoutValidation(header.Key, header.Value);
            }
        }

        foreach (var option in request.Options)
        {
            ((IDictionary<string, object?>)copy.Options)[option.Key] = option.Value;
        }

        request.Dispose();
        return copy;
    }

    [LoggerMessage(EventId = LogEventIds.Gateway.Retry, Level = LogLevel.Warning, Message = "Upstream {Failed} failed ({Error}) before answering {Method} {Path}; sent it to {Next}")]
    private static partial void LogRetry(ILogger logger, string method, string path, string failed, string next, HttpRequestError error);
}

/// <summary>Upstream health as the Gateway sees it from its own requests (YARP's passive health).</summary>
/// <remarks>
/// YARP's state is looked up on first use: YARP builds the forwarder client (which uses this) while building that
/// state, so taking it in the constructor would be a circular dependency.
/// </remarks>
internal sealed partial class UpstreamHealth(IServiceProvider services, GatewayOptions options, ILogger<UpstreamHealth> logger)
{
    /// <summary>
    /// Failures that say the upstream is gone (refused, reset, closed before answering), as opposed to a request
    /// the handler could not send (e.g. a header value it refuses), which says nothing about the upstream.
    /// </summary>
    public static bool IsConnectionFailure(HttpRequestException ex) =>
        ex.HttpRequestError is HttpRequestError.ConnectionError or HttpRequestError.ResponseEnded or HttpRequestError.NameResolutionError
        || ex.InnerException is System.Net.Sockets.SocketException or IOException { InnerException: System.Net.Sockets.SocketException };

    /// <summary>Takes the upstream out until it has been down for two health intervals; active checks decide after.</summary>
    public void MarkDown(DestinationState destination)
    {
        if (!TryGetCluster(out var cluster) || destination.Health.Passive == DestinationHealth.Unhealthy)
        {
            return;
        }

        LogMarkedDown(logger, destination.DestinationId);
        services.GetRequiredService<IDestinationHealthUpdater>().SetPassive(cluster, destination, DestinationHealth.Unhealthy, options.HealthCheckInterval * 2);
    }

    /// <summary>The upstream a forwarded request was sent to, by the address it starts with.</summary>
    public DestinationState? DestinationOf(Uri? requestUri)
    {
        if (requestUri is null || !TryGetCluster(out var cluster))
        {
            return null;
        }

        var uri = requestUri.AbsoluteUri;
        foreach (var destination in cluster.Destinations.Values)
        {
            var address = destination.Model.Config.Address.TrimEnd('/');
            if (uri.StartsWith(address, StringComparison.OrdinalIgnoreCase) && (uri.Length == address.Length || uri[address.Length] is '/' or '?'))
            {
                return destination;
            }
        }

        return null;
    }

    /// <summary>A healthy upstream not tried yet, the one with the fewest requests in flight; null when none is left.</summary>
    public DestinationState? PickOther(IReadOnlyCollection<DestinationState> tried) =>
        !TryGetCluster(out var cluster) ? null : cluster.Destinations.Values
            .Where(d => !tried.Contains(d) && d.Health.Passive != DestinationHealth.Unhealthy && d.Health.Active != DestinationHealth.Unhealthy)
            .OrderBy(d => d.ConcurrentRequestCount)
            .FirstOrDefault();

    private bool TryGetCluster([System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out ClusterState? cluster) =>
        services.GetRequiredService<IProxyStateLookup>().TryGetCluster(SdkRouting.ClusterId, out cluster);

    [LoggerMessage(EventId = LogEventIds.Gateway.MarkedDown, Level = LogLevel.Warning, Message = "Upstream {Destination} is down (connection failed); taken out until health checks bring it back")]
    private static partial void LogMarkedDown(ILogger logger, string destination);
}

/// <summary>
/// Passive health policy: an upstream is taken out at its first connection failure. It replaces YARP's
/// failure-rate policy, which also counts requests that failed because of what the client sent, so hostile requests
/// could take every upstream out.
/// </summary>
internal sealed class ConnectionFailurePolicy(UpstreamHealth health) : IPassiveHealthCheckPolicy
{
    public const string PolicyName = "ConnectionFailure";

    public string Name => PolicyName;

    public void RequestProxied(HttpContext context, ClusterState cluster, DestinationState destination)
    {
        if (context.Features.Get<IForwarderErrorFeature>()?.Exception is HttpRequestException ex && UpstreamHealth.IsConnectionFailure(ex))
        {
            health.MarkDown(destination);
        }
    }
}

/// <summary>An upstream event stream whose connection breaks ends like a stream the upstream closed.</summary>
internal sealed class UpstreamLossEndsContent : HttpContent
{
    private readonly HttpContent _inner;

    public UpstreamLossEndsContent(HttpContent inner)
    {
        _inner = inner;
        foreach (var header in inner.Headers)
        {
            Headers.TryAddWithoutValidation(header.Key, header.Value);
        }
    }

    protected override async Task<Stream> CreateContentReadStreamAsync(CancellationToken cancellationToken) =>
        new UpstreamLossEndsStream(await _inner.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false));

    protected override Task<Stream> CreateContentReadStreamAsync() => CreateContentReadStreamAsync(CancellationToken.None);

    protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
    {
        await using var source = await CreateContentReadStreamAsync().ConfigureAwait(false);
        await source.CopyToAsync(stream).ConfigureAwait(false);
    }

    protected override bool TryComputeLength(out long length)
    {
        length = 0;
        return false;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _inner.Dispose();
        }

        base.Dispose(disposing);
    }
}

internal sealed class UpstreamLossEndsStream(Stream inner) : Stream
{
    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        try
        {
            return await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        }
        catch (IOException) when (!cancellationToken.IsCancellationRequested)
        {
            return 0;   // HttpIOException (ended prematurely) and socket resets alike
        }
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer, offset, count, CancellationToken.None).GetAwaiter().GetResult();

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            inner.Dispose();
        }

        base.Dispose(disposing);
    }
}

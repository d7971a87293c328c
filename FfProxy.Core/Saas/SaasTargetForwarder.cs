using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text.Json;
using System.Threading.Channels;
using FfProxy.Core.Configuration;
using FfProxy.Core.Domain;
using FfProxy.Core.Sdk;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace FfProxy.Core.Saas;

/// <summary>
/// FORWARD_TARGETS (spec §3.8): each target seen at <c>/client/auth</c> is sent to SaaS's <c>/client/auth</c> with the
/// same SDK key, so it shows in the Harness UI. Whichever process authenticated the SDK forwards (in HA that is a
/// Replica, which otherwise never talks to SaaS). Fire-and-forget through a bounded queue: a burst of logins drops
/// forwards rather than piling up requests, and a slow SaaS never delays an SDK.
/// </summary>
internal sealed partial class SaasTargetForwarder(
    IHttpClientFactory httpClients,
    ProxyOptions options,
    SaasRequestMetrics metrics,
    TimeProvider time,
    ILogger<SaasTargetForwarder> logger) : BackgroundService, ITargetForwarder
{
    public const string HttpClientName = "saas-targets";

    public static TimeSpan Timeout { get; } = TimeSpan.FromSeconds(10);

    /// <summary>Forwards waiting at most; one is sent at a time, so a burst costs memory for this many bodies and no more.</summary>
    public const int QueueCapacity = 1000;

    private const string MetricUrl = "/client/auth";

    // FullMode Wait, not DropWrite: only then does TryWrite report a full queue (DropWrite drops and answers true).
    private readonly Channel<byte[]> _queue = Channel.CreateBounded<byte[]>(new BoundedChannelOptions(QueueCapacity) { SingleReader = true });
    private readonly Uri _endpoint = SaasUris.Under(options.ClientService, MetricUrl);

    public void Forward(string sdkKey, Target target)
    {
        // Only the four fields an SDK sends (spec §3.8), whatever else the target picked up.
        var forwarded = new Target { Identifier = target.Identifier, Name = target.Name, Anonymous = target.Anonymous, Attributes = target.Attributes };
        var body = JsonSerializer.SerializeToUtf8Bytes(new AuthRequest { ApiKey = sdkKey, Target = forwarded }, ProxyJsonContext.Default.AuthRequest);
        if (!_queue.Writer.TryWrite(body))
        {
            LogDropped(logger);
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await foreach (var body in _queue.Reader.ReadAllAsync(stoppingToken).ConfigureAwait(false))
            {
                using var limit = new CancellationTokenSource(Timeout, time);
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken, limit.Token);
                await SendAsync(body, stoppingToken, timeout.Token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
            // Shutting down.
        }
    }

    private async Task SendAsync(byte[] body, CancellationToken stoppingToken, CancellationToken timeout)
    {
        var started = Stopwatch.GetTimestamp();
        using var request = new HttpRequestMessage(HttpMethod.Post, _endpoint)
        {
            Content = new ByteArrayContent(body) { Headers = { ContentType = new MediaTypeHeaderValue("application/json") } },
        };
        try
        {
            // The answer is ignored (spec §3.8); its status is only counted.
            using var response = await httpClients.CreateClient(HttpClientName)
                .SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout).ConfigureAwait(false);
            metrics.Record(MetricUrl, "", (int)response.StatusCode, Stopwatch.GetElapsedTime(started));
        }
        catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
        {
            // Whatever went wrong with this one (timeout included), the next target is still forwarded.
            metrics.Record(MetricUrl, "", 0, Stopwatch.GetElapsedTime(started));
            LogFailed(logger, ex.Message);
        }
    }

    [LoggerMessage(EventId = LogEventIds.Saas.Dropped, Level = LogLevel.Warning, Message = "Target forwarding queue is full; a target was not forwarded")]
    private static partial void LogDropped(ILogger logger);

    [LoggerMessage(EventId = LogEventIds.Saas.Failed, Level = LogLevel.Warning, Message = "Forwarding a target to SaaS failed: {Reason}")]
    private static partial void LogFailed(ILogger logger, string reason);
}

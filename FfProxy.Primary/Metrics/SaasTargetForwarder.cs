using System.Text.Json;
using System.Threading.Channels;
using FfProxy.Core.Domain;
using FfProxy.Core.Sdk;
using FfProxy.Primary.Saas;

namespace FfProxy.Primary.Metrics;

/// <summary>
/// FORWARD_TARGETS (spec §3.8): each target seen at <c>/client/auth</c> is sent to SaaS's <c>/client/auth</c> with the
/// same SDK key, so it shows in the Harness UI. Fire-and-forget through a bounded queue: a burst of logins drops
/// forwards rather than piling up requests, and a slow SaaS never delays an SDK.
/// </summary>
public sealed partial class SaasTargetForwarder(HarnessSaasClient saas, TimeProvider time, ILogger<SaasTargetForwarder> logger) : BackgroundService, ITargetForwarder
{
    public static TimeSpan Timeout { get; } = TimeSpan.FromSeconds(10);

    /// <summary>Forwards waiting at most; one is sent at a time, so a burst costs memory for this many bodies and no more.</summary>
    public const int QueueCapacity = 1000;

    // FullMode Wait, not DropWrite: only then does TryWrite report a full queue (DropWrite drops and answers true).
    private readonly Channel<byte[]> _queue = Channel.CreateBounded<byte[]>(new BoundedChannelOptions(QueueCapacity) { SingleReader = true });

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
                try
                {
                    await saas.ForwardTargetAsync(body, timeout.Token).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
                {
                    // Whatever went wrong with this one (timeout included), the next target is still forwarded.
                    LogFailed(logger, ex.Message);
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Shutting down.
        }
    }

    [LoggerMessage(EventId = 4201, Level = LogLevel.Warning, Message = "Target forwarding queue is full; a target was not forwarded")]
    private static partial void LogDropped(ILogger logger);

    [LoggerMessage(EventId = 4202, Level = LogLevel.Warning, Message = "Forwarding a target to SaaS failed: {Reason}")]
    private static partial void LogFailed(ILogger logger, string reason);
}

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
public sealed partial class SaasTargetForwarder(HarnessSaasClient saas, ILogger<SaasTargetForwarder> logger) : BackgroundService, ITargetForwarder
{
    public static TimeSpan Timeout { get; } = TimeSpan.FromSeconds(10);

    private readonly Channel<byte[]> _queue = Channel.CreateBounded<byte[]>(new BoundedChannelOptions(1000) { FullMode = BoundedChannelFullMode.DropWrite });

    public void Forward(string sdkKey, Target target)
    {
        var body = JsonSerializer.SerializeToUtf8Bytes(new AuthRequest { ApiKey = sdkKey, Target = target }, ProxyJsonContext.Default.AuthRequest);
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
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
                timeout.CancelAfter(Timeout);
                try
                {
                    await saas.ForwardTargetAsync(body, timeout.Token).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is SaasRequestException || (ex is OperationCanceledException && !stoppingToken.IsCancellationRequested))
                {
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

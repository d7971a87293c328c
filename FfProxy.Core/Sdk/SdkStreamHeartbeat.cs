using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace FfProxy.Core.Sdk;

/// <summary>
/// One ticker for every SDK stream of the process: every fifth of the heartbeat interval it queues the shared
/// keep-alive comment on the streams that sent nothing for a whole interval. A stream therefore never stays quiet
/// longer than 1.2 × the interval (18 s at 15 s, below the 30 s after which SDKs give up), and holds no timer,
/// cancellation source or task of its own while it waits.
/// </summary>
internal sealed partial class SdkStreamHeartbeat(SdkStreamHub hub, SdkStreamSettings settings, TimeProvider time, ILogger<SdkStreamHeartbeat> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var ticker = new PeriodicTimer(settings.Heartbeat / 5, time);
        try
        {
            while (await ticker.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                try
                {
                    var quietSince = time.GetTimestamp() - (long)(settings.Heartbeat.TotalSeconds * time.TimestampFrequency);
                    hub.EnqueueHeartbeats(quietSince);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    // Never let one bad tick end the keep-alives of every stream.
                    LogTickFailed(logger, ex);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Shutting down.
        }
    }

    [LoggerMessage(EventId = LogEventIds.Sdk.TickFailed, Level = LogLevel.Error, Message = "Queueing SDK stream heartbeats failed")]
    private static partial void LogTickFailed(ILogger logger, Exception exception);
}

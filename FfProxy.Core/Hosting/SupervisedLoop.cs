using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace FfProxy.Core.Hosting;

/// <summary>
/// A long-running worker that no failure can stop: when <see cref="RunAsync"/> throws anything other than the
/// host's own cancellation, the failure is logged and the body starts again after a backoff (doubling from
/// <see cref="FirstBackoff"/> up to <see cref="MaxBackoff"/>, reset after a run that lasted longer than the maximum).
/// A body that returns normally is done. Each worker still handles the failures it expects; this is the net below.
/// </summary>
public abstract partial class SupervisedLoop : BackgroundService
{
    /// <summary>How many times the body was restarted after a failure (for tests and diagnostics).</summary>
    public int Restarts => Volatile.Read(ref _restarts);

    private int _restarts;

    /// <summary>The clock of the backoff (the worker's own, so tests can drive it).</summary>
    protected abstract TimeProvider Time { get; }

    protected abstract ILogger Logger { get; }

    protected virtual TimeSpan FirstBackoff => TimeSpan.FromSeconds(1);

    protected virtual TimeSpan MaxBackoff => TimeSpan.FromSeconds(30);

    /// <summary>The worker's body; it should loop until <paramref name="stoppingToken"/> is cancelled.</summary>
    protected abstract Task RunAsync(CancellationToken stoppingToken);

    protected sealed override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var backoff = FirstBackoff;
        while (!stoppingToken.IsCancellationRequested)
        {
            var started = Time.GetTimestamp();
            try
            {
                await RunAsync(stoppingToken).ConfigureAwait(false);
                return;
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                if (Time.GetElapsedTime(started) > MaxBackoff)
                {
                    backoff = FirstBackoff;
                }

                Interlocked.Increment(ref _restarts);
                LogRestarting(Logger, GetType().Name, backoff, ex);
            }

            try
            {
                await Task.Delay(backoff, Time, stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, MaxBackoff.Ticks));
        }
    }

    [LoggerMessage(EventId = LogEventIds.Hosting.Restarting, Level = LogLevel.Error, Message = "{Worker} failed; restarting it in {Backoff}")]
    private static partial void LogRestarting(ILogger logger, string worker, TimeSpan backoff, Exception exception);
}

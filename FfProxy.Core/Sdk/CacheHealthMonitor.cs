using FfProxy.Core.Hosting;
using FfProxy.Core.Caching;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace FfProxy.Core.Sdk;

/// <summary>Pings the store at start and every minute for <c>/health</c>'s <c>cacheStatus</c> (spec §4.4).</summary>
internal sealed partial class CacheHealthMonitor(IKeyValueStore store, ProxyStatus status, TimeProvider time, ILogger<CacheHealthMonitor> logger)
    : SupervisedLoop
{
    protected override TimeProvider Time => time;

    protected override ILogger Logger => logger;

    public static TimeSpan Interval { get; } = TimeSpan.FromSeconds(60);

    protected override async Task RunAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Interval, time);
        do
        {
            bool healthy;
            try
            {
                healthy = await store.PingAsync(stoppingToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                healthy = false;
                LogPingFailed(logger, ex);
            }

            if (healthy != status.CacheHealthy)
            {
                LogCacheHealth(logger, healthy ? "healthy" : "unhealthy");
            }

            status.SetCacheHealthy(healthy);
        }
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false));
    }

    [LoggerMessage(EventId = LogEventIds.Sdk.PingFailed, Level = LogLevel.Warning, Message = "Cache ping failed")]
    private static partial void LogPingFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = LogEventIds.Sdk.CacheHealth, Level = LogLevel.Information, Message = "Cache is now {Health}")]
    private static partial void LogCacheHealth(ILogger logger, string health);
}

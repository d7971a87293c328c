using FfProxy.Core.Configuration;
using FfProxy.Core.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace FfProxy.Core.Sdk;

/// <summary>
/// HEARTBEAT_INTERVAL (spec §2.12): GETs this process's own <c>/health</c> through its listener and logs the
/// answer, so a proxy that stopped answering shows in its log. 0 disables it (the Go binary crashed instead).
/// </summary>
internal sealed partial class HealthHeartbeat(
    ProxyOptions options,
    IServer server,
    IHttpClientFactory httpClients,
    TimeProvider time,
    ILogger<HealthHeartbeat> logger) : SupervisedLoop
{
    protected override TimeProvider Time => time;

    protected override ILogger Logger => logger;

    public const string HttpClientName = "heartbeat";

    protected override async Task RunAsync(CancellationToken stoppingToken)
    {
        if (options.HeartbeatInterval <= 0)
        {
            LogDisabled(logger);
            return;
        }

        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(options.HeartbeatInterval), time);
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
        {
            var uri = HealthUri();
            if (uri is null)
            {
                continue;
            }

            try
            {
                using var response = await httpClients.CreateClient(HttpClientName).GetAsync(uri, stoppingToken).ConfigureAwait(false);
                var body = await response.Content.ReadAsStringAsync(stoppingToken).ConfigureAwait(false);
                if (response.IsSuccessStatusCode)
                {
                    LogHealthy(logger, body);
                }
                else
                {
                    LogUnhealthy(logger, (int)response.StatusCode, body);
                }
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                LogUnreachable(logger, ex.Message);
            }
        }
    }

    private Uri? HealthUri()
    {
        var address = server.Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault();
        if (address is null)
        {
            return null;
        }

        // A wildcard listener is reached on loopback.
        var uri = new UriBuilder(address.Replace("://+", "://localhost", StringComparison.Ordinal).Replace("://*", "://localhost", StringComparison.Ordinal));
        if (uri.Host is "0.0.0.0" or "[::]" or "::")
        {
            uri.Host = "localhost";
        }

        uri.Path = "/health";
        return uri.Uri;
    }

    [LoggerMessage(EventId = LogEventIds.Sdk.HeartbeatDisabled, Level = LogLevel.Information, Message = "The health heartbeat is disabled (HEARTBEAT_INTERVAL=0)")]
    private static partial void LogDisabled(ILogger logger);

    [LoggerMessage(EventId = LogEventIds.Sdk.Healthy, Level = LogLevel.Information, Message = "Heartbeat: healthy {Body}")]
    private static partial void LogHealthy(ILogger logger, string body);

    [LoggerMessage(EventId = LogEventIds.Sdk.Unhealthy, Level = LogLevel.Warning, Message = "Heartbeat: /health answered {StatusCode} {Body}")]
    private static partial void LogUnhealthy(ILogger logger, int statusCode, string body);

    [LoggerMessage(EventId = LogEventIds.Sdk.Unreachable, Level = LogLevel.Warning, Message = "Heartbeat: /health unreachable: {Reason}")]
    private static partial void LogUnreachable(ILogger logger, string reason);
}

using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace FfProxy.Core.Configuration;

/// <summary>Logs at start how this process is configured and which settings deserve attention.</summary>
internal sealed partial class StartupReport(ProxyOptions options, IHostEnvironment environment, ILogger<StartupReport> logger) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        LogMode(logger, environment.ApplicationName, options.Offline ? "offline" : "online", options.InMemoryStore ? "memory" : "redis");
        if (options.AuthSecret == ProxyOptions.DefaultAuthSecret)
        {
            LogDefaultSecret(logger);
        }

        if (options.BypassAuth)
        {
            LogBypassAuth(logger);
        }

        if (options.Redis.IgnoredPoolVariables.Count > 0)
        {
            LogIgnoredPoolVariables(logger, string.Join(", ", options.Redis.IgnoredPoolVariables));
        }

        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(EventId = LogEventIds.Configuration.Mode, Level = LogLevel.Information, Message = "{Application} starting: {Mode} mode, {Store} store")]
    private static partial void LogMode(ILogger logger, string application, string mode, string store);

    [LoggerMessage(EventId = LogEventIds.Configuration.DefaultSecret, Level = LogLevel.Warning, Message = "AUTH_SECRET is the default value; anyone can mint SDK tokens for this proxy. Set AUTH_SECRET to a long random secret shared by all instances.")]
    private static partial void LogDefaultSecret(ILogger logger);

    [LoggerMessage(EventId = LogEventIds.Configuration.BypassAuth, Level = LogLevel.Warning, Message = "BYPASS_AUTH=true: SDK requests are not authenticated. Use only for development.")]
    private static partial void LogBypassAuth(ILogger logger);

    [LoggerMessage(EventId = LogEventIds.Configuration.IgnoredPoolVariables, Level = LogLevel.Warning, Message = "{Variables} ignored: StackExchange.Redis multiplexes every command over one connection per Redis node, so there is no connection pool to size, wait for, keep idle or expire.")]
    private static partial void LogIgnoredPoolVariables(ILogger logger, string variables);
}

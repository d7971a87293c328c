using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace FfProxy.Core.Configuration;

public static class ConfigurationExtensions
{
    /// <summary>
    /// Reads and validates the documented variables once; a bad value throws
    /// <see cref="ProxyConfigurationException"/> naming every bad variable.
    /// </summary>
    public static ProxyOptions AddProxyOptions(this IHostApplicationBuilder builder)
    {
        var options = ProxyOptionsReader.Read(builder.Configuration);
        builder.Services.AddSingleton(options);
        builder.Services.AddHostedService<StartupReport>();
        builder.Logging.SetMinimumLevel(options.LogLevel switch
        {
            "DEBUG" => LogLevel.Debug,
            "ERROR" => LogLevel.Error,
            "WARN" => LogLevel.Warning,
            _ => LogLevel.Information,
        });
        if (options.LogLevel != "DEBUG")
        {
            // One line per request is the proxy's own logging to decide, not the framework's.
            builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        }

        return options;
    }
}

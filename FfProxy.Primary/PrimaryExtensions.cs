using System.Security.Cryptography.X509Certificates;
using FfProxy.Core.Configuration;
using FfProxy.Primary.Offline;

namespace FfProxy.Primary;

/// <summary>Registration of what makes this process the Primary.</summary>
public static class PrimaryExtensions
{
    /// <summary>
    /// Listens on PORT (default 7000) and PROMETHEUS_PORT unless the host supplied URLs (Aspire, tests) and
    /// PORT was not set; serves HTTPS from TLS_CERT/TLS_KEY when TLS_ENABLED.
    /// </summary>
    public static WebApplicationBuilder AddListeners(this WebApplicationBuilder builder, ProxyOptions options)
    {
        var hostUrls = !string.IsNullOrEmpty(builder.Configuration["urls"]) || !string.IsNullOrEmpty(builder.Configuration["http_ports"]);
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Limits.KeepAliveTimeout = TimeSpan.FromSeconds(60);
            if (hostUrls && !options.PortExplicit)
            {
                return;
            }

            kestrel.ListenAnyIP(options.Port, listen =>
            {
                if (options.TlsEnabled)
                {
                    listen.UseHttps(X509Certificate2.CreateFromPemFile(options.TlsCert, options.TlsKey));
                }
            });
            if (options.PrometheusPort != options.Port)
            {
                kestrel.ListenAnyIP(options.PrometheusPort);
            }
        });
        return builder;
    }

    /// <summary>Where configuration comes from: the offline directory, or Harness SaaS.</summary>
    public static WebApplicationBuilder AddConfigSource(this WebApplicationBuilder builder, ProxyOptions options)
    {
        if (!options.Offline)
        {
            throw new ProxyConfigurationException(
            [
                "OFFLINE: this build of FfProxy serves an offline configuration directory only; set OFFLINE=true and CONFIG_DIR (online mode with PROXY_KEY is not available yet).",
            ]);
        }

        builder.Services.AddSingleton<OfflineConfigSource>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<OfflineConfigSource>());
        return builder;
    }
}

using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;

namespace FfProxy.Core.Configuration;

public static class ListenerExtensions
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
}

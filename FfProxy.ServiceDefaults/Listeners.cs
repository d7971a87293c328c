using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;

namespace Microsoft.Extensions.Hosting;

/// <summary>Where an FfProxy process listens: PORT, optional HTTPS from PEM files, and PROMETHEUS_PORT.</summary>
public sealed record ListenerSettings(int Port, bool PortExplicit, bool TlsEnabled, string TlsCert, string TlsKey, int PrometheusPort);

public static class ListenerExtensions
{
    /// <summary>
    /// Listens on PORT (and PROMETHEUS_PORT when different) unless the host supplied URLs (Aspire, tests) and PORT
    /// was not set explicitly; serves HTTPS from TLS_CERT/TLS_KEY when TLS_ENABLED.
    /// </summary>
    public static WebApplicationBuilder AddListeners(this WebApplicationBuilder builder, ListenerSettings settings)
    {
        var hostUrls = !string.IsNullOrEmpty(builder.Configuration["urls"]) || !string.IsNullOrEmpty(builder.Configuration["http_ports"]);
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Limits.KeepAliveTimeout = TimeSpan.FromSeconds(60);
            if (hostUrls && !settings.PortExplicit)
            {
                return;
            }

            kestrel.ListenAnyIP(settings.Port, listen =>
            {
                if (settings.TlsEnabled)
                {
                    listen.UseHttps(X509Certificate2.CreateFromPemFile(settings.TlsCert, settings.TlsKey));
                }
            });
            if (settings.PrometheusPort != settings.Port)
            {
                kestrel.ListenAnyIP(settings.PrometheusPort);
            }
        });
        return builder;
    }
}

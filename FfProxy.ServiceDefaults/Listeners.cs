using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;

namespace Microsoft.Extensions.Hosting;

/// <summary>Where an FfProxy process listens: PORT, optional HTTPS from PEM files, and PROMETHEUS_PORT.</summary>
public sealed record ListenerSettings(int Port, bool PortExplicit, bool TlsEnabled, string TlsCert, string TlsKey, int PrometheusPort)
{
    /// <summary>PORT when unset, in every role (the Go proxy's).</summary>
    public const int DefaultPort = 7000;
}

public static class ListenerExtensions
{
    /// <summary>All request headers together: a 350 KiB Harness-Target plus room for the rest.</summary>
    public const int MaxRequestHeadersTotalSize = 384 * 1024;

    /// <summary>Request headers per request (Kestrel's default is 100).</summary>
    public const int MaxRequestHeaderCount = 200;

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

            // The JS client SDK sends its target in Harness-Target when the base64 is under 256 KiB (up to 262,143
            // characters); TargetHeader accepts 350 KiB. Kestrel's defaults (32 KB in all, 16 KB per HTTP/2 field)
            // would answer such SDKs 431.
            kestrel.Limits.MaxRequestHeadersTotalSize = MaxRequestHeadersTotalSize;
            kestrel.Limits.MaxRequestHeaderCount = MaxRequestHeaderCount;
            kestrel.Limits.Http2.MaxRequestHeaderFieldSize = MaxRequestHeadersTotalSize;
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

using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;

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

        // SDK streams write a few bytes to thousands of connections at once (an event, a wave of heartbeats). Queued
        // for a separate send loop, each such write holds a 4 KB block of Kestrel's pool until its send runs, and the
        // pool keeps every block it ever needed (it gives back about 1 % per 10 s while traffic continues): one event
        // to 10,000 streams left it 40 MB larger. Sent inline by the writing thread, a block goes back at once and the
        // next stream's write reuses it. Socket completions still run on the thread pool (inline completions are a
        // separate runtime switch, left off), so no request code runs on the sockets' event thread.
        builder.WebHost.UseSockets(sockets => sockets.UnsafePreferInlineScheduling = builder.Configuration.GetValue("FfProxy:InlineSocketScheduling", true));
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

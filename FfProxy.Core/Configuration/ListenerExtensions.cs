using Microsoft.Extensions.Hosting;

namespace FfProxy.Core.Configuration;

public static class ProxyListenerExtensions
{
    /// <summary>The listener settings of a Primary or Replica (PORT, TLS_*, PROMETHEUS_PORT).</summary>
    public static ListenerSettings Listener(this ProxyOptions options) =>
        new(options.Port, options.PortExplicit, options.TlsEnabled, options.TlsCert, options.TlsKey, options.PrometheusPort);
}

using System.Globalization;

namespace FfProxy.Gateway;

/// <summary>The Gateway's settings could not be used; the message names the variable.</summary>
internal sealed class GatewayConfigurationException(string message) : Exception(message);

/// <summary>
/// The Gateway's variables: PORT (default 7000), TLS_ENABLED/TLS_CERT/TLS_KEY, and UPSTREAMS, the comma-separated
/// addresses of the processes serving SDKs. The default <c>http://replicas</c> is resolved by service discovery
/// (Aspire passes <c>services__replicas__http__N</c>, one per Replica, or the Primary in a single-node topology).
/// </summary>
internal sealed record GatewayOptions(
    ListenerSettings Listener, IReadOnlyList<string> Upstreams, TimeSpan StreamIdleTimeout, TimeSpan RequestTimeout, TimeSpan HealthCheckInterval)
{
    public const string DefaultUpstream = "http://replicas";

    public static GatewayOptions Read(IConfiguration configuration)
    {
        var portText = configuration["PORT"];
        var port = ListenerSettings.DefaultPort;
        if (!string.IsNullOrEmpty(portText) && (!int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out port) || port is < 1 or > 65535))
        {
            throw new GatewayConfigurationException($"PORT: '{portText}' is not a port number (1-65535).");
        }

        // Go's boolean syntax, as the Primary and the Replicas parse TLS_ENABLED: 1, t, true, TRUE, ... all mean true.
        var tlsText = configuration["TLS_ENABLED"];
        var tls = false;
        if (!string.IsNullOrEmpty(tlsText) && !GoBoolean.TryParse(tlsText, out tls))
        {
            throw new GatewayConfigurationException(GoBoolean.Problem("TLS_ENABLED", tlsText));
        }

        var cert = configuration["TLS_CERT"] ?? "";
        var key = configuration["TLS_KEY"] ?? "";
        if (tls && (!File.Exists(cert) || !File.Exists(key)))
        {
            throw new GatewayConfigurationException("TLS_CERT, TLS_KEY: TLS_ENABLED=true needs readable PEM certificate and key files.");
        }

        var upstreams = (configuration["UPSTREAMS"] ?? DefaultUpstream)
            .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        foreach (var upstream in upstreams)
        {
            if (!Uri.TryCreate(upstream, UriKind.Absolute, out var uri) || (uri.Scheme != "http" && uri.Scheme != "https"))
            {
                throw new GatewayConfigurationException($"UPSTREAMS: '{upstream}' is not an http(s) URL.");
            }
        }

        if (upstreams.Length == 0)
        {
            throw new GatewayConfigurationException("UPSTREAMS: names no upstream.");
        }

        var idle = Duration(configuration, "StreamIdleTimeout", TimeSpan.FromMinutes(10));
        var request = Duration(configuration, "RequestTimeout", TimeSpan.FromSeconds(60));
        var interval = Duration(configuration, "HealthCheckInterval", TimeSpan.FromSeconds(5));
        return new GatewayOptions(new ListenerSettings(port, !string.IsNullOrEmpty(portText), tls, cert, key, port), upstreams, idle, request, interval);
    }

    /// <summary>A positive <c>FfProxy:Gateway:{name}</c> (hh:mm:ss), or the message naming the setting.</summary>
    private static TimeSpan Duration(IConfiguration configuration, string name, TimeSpan fallback)
    {
        var text = configuration["FfProxy:Gateway:" + name];
        if (string.IsNullOrEmpty(text))
        {
            return fallback;
        }

        return TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out var value) && value > TimeSpan.Zero
            ? value
            : throw new GatewayConfigurationException($"FfProxy:Gateway:{name}: '{text}' is not a positive duration (hh:mm:ss).");
    }
}

/// <summary>Names this assembly's entry point for hosts in tests.</summary>
public sealed class GatewayMarker;

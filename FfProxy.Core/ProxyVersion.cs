using System.Reflection;

namespace FfProxy.Core;

/// <summary>The version FfProxy reports to SaaS (<c>Harness-SDK-Info: Proxy &lt;version&gt;</c>).</summary>
public static class ProxyVersion
{
    public static string Current { get; } = Read();

    private static string Read()
    {
        var version = typeof(ProxyVersion).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "1.0.0";
        var plus = version.IndexOf('+', StringComparison.Ordinal);
        return plus < 0 ? version : version[..plus];
    }
}

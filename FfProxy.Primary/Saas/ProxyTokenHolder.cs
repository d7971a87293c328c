namespace FfProxy.Primary.Saas;

/// <summary>
/// The latest proxy token, shared by everything that talks to SaaS on the Proxy Key's behalf (account stream,
/// per-item refreshes, metrics). Null until the first successful <c>/proxy/auth</c>.
/// </summary>
internal sealed class ProxyTokenHolder
{
    private volatile ProxyToken? _current;

    public ProxyToken? Current => _current;

    public void Set(ProxyToken? token) => _current = token;
}

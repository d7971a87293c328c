using FfProxy.Tests.Fakes;

namespace FfProxy.Tests.Fixtures;

/// <summary>
/// An online FfProxy.Primary as its own operating-system process (see <see cref="ProxyProcess"/>), with the
/// settings of <see cref="OnlineProxy"/> against a <see cref="FakeSaas"/> and a real redis-server.
/// </summary>
public static class PrimaryProcess
{
    /// <summary>Starts a Primary on a free port and waits until it holds its SaaS stream (stream state CONNECTED).</summary>
    public static Task<ProxyProcess> StartAsync(FakeSaas saas, RedisServer redis, string proxyKey, IDictionary<string, string>? settings = null) =>
        ProxyProcess.StartAsync("FfProxy.Primary.dll", OnlineProxy.PrimarySettings(saas, redis, proxyKey, settings));
}

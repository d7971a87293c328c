using Microsoft.Extensions.Hosting;

namespace FfProxy.Core.Sdk;

/// <summary>
/// Ends every SDK stream as soon as the process starts shutting down, so SDKs reconnect elsewhere at once and the
/// server does not wait out its shutdown timeout on streams that never end by themselves.
/// </summary>
internal sealed class SdkStreamShutdown(IHostApplicationLifetime lifetime, SdkStreamHub hub) : IHostedService
{
    private CancellationTokenRegistration _registration;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _registration = lifetime.ApplicationStopping.Register(hub.CloseAll);
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken) => await _registration.DisposeAsync().ConfigureAwait(false);
}

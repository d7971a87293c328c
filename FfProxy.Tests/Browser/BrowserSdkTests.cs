using FfProxy.Tests.Fixtures;

namespace FfProxy.Tests.Browser;

/// <summary>The JS client SDK in a real browser on another origin, straight to a Primary (the Gateway run is in AppHostTests).</summary>
public sealed class BrowserSdkTests
{
    [Fact]
    public async Task Js_client_sdk_on_another_origin_evaluates_streams_and_posts_metrics_against_a_primary()
    {
        await using var proxy = PrimaryHost.StartOffline();
        await BrowserSdkPage.RunAsync(proxy.BaseAddress, proxy.ConfigDir);
    }
}

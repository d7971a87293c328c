using System.Diagnostics;
using System.Text.Json;
using FfProxy.Tests.Fixtures;

namespace FfProxy.Tests.SdkCompat;

/// <summary>
/// The published Harness npm SDKs (server 1.8.12, JS client 1.32.0) against a real FfProxy on loopback: they
/// authenticate, evaluate flags of every kind, and see an edit of the offline config through the stream.
/// </summary>
public sealed class HarnessSdkTests : IAsyncLifetime
{
    private static readonly object[] Flags =
    [
        new { name = "dark_mode", kind = "boolean", @default = false },
        new { name = "banner_text", kind = "string", @default = "default" },
        new { name = "page_size", kind = "int", @default = -1 },
        new { name = "checkout_layout", kind = "json", @default = new { } },
    ];

    private PrimaryHost _proxy = null!;

    public Task InitializeAsync()
    {
        _proxy = PrimaryHost.StartOffline();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await _proxy.DisposeAsync();

    [Theory]
    [InlineData("server-sdk.mjs", Sample.ServerKey)]
    [InlineData("client-sdk.mjs", Sample.ClientKey)]
    public Task Sdk_evaluates_every_kind_and_sees_an_offline_edit_through_the_stream(string driver, string sdkKey) =>
        RunAsync(driver, sdkKey, _proxy.BaseAddress, _proxy.ConfigDir);

    /// <summary>The scenario against any FfProxy serving <paramref name="configDir"/> (a single node, or the Gateway of a topology).</summary>
    internal static async Task RunAsync(string driver, string sdkKey, Uri baseAddress, string configDir)
    {
        var scenario = new
        {
            baseUrl = baseAddress.ToString().TrimEnd('/'),
            sdkKey,
            target = new { identifier = "carol", name = "Carol", attributes = new { email = "carol@example.com", plan = "beta" } },
            flags = Flags,
            watch = new { flag = "banner_text", expect = "Edited while streaming", timeoutMs = 15000 },
        };
        await using var sdk = await NodeSdkRunner.StartAsync(driver, scenario);

        var ready = (await sdk.NextAsync(TimeSpan.FromSeconds(30), "ready")).GetProperty("values");
        Assert.True(ready.GetProperty("dark_mode").GetBoolean());                          // rule: email ends_with @example.com
        Assert.Equal("Hello, beta tester", ready.GetProperty("banner_text").GetString());  // group rule: plan equal beta
        Assert.Equal(10, ready.GetProperty("page_size").GetDouble());                      // rollout: identifier:carol → bucket 17
        Assert.True(JsonElement.DeepEquals(JsonDocument.Parse("{\"columns\":2,\"express\":true}").RootElement, ready.GetProperty("checkout_layout")));

        // Edit the value served to this target without touching the flag's version, as a person would.
        var path = Path.Combine(Sample.EnvironmentDirectory(configDir), "feature_config.json");
        var edited = File.ReadAllText(path).Replace("Hello, beta tester", "Edited while streaming", StringComparison.Ordinal);
        var watch = Stopwatch.StartNew(); // from the write
        File.WriteAllText(path, edited);
        var changed = await sdk.NextAsync(TimeSpan.FromSeconds(20), "changed", "timeout");
        watch.Stop();

        Assert.Equal("changed", changed.GetProperty("event").GetString());
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(3), $"the change took {watch.Elapsed} to reach the SDK");
    }
}

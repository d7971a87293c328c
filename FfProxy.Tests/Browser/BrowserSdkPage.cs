using System.Diagnostics;
using System.Text.Json;
using FfProxy.Tests.Fixtures;
using FfProxy.Tests.SdkCompat;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Playwright;

namespace FfProxy.Tests.Browser;

/// <summary>
/// The published JS client SDK (the locked npm package's browser bundle) in Debian's Chromium, driven by Playwright,
/// on a page served from its own origin (a Kestrel app on another port than the proxy), so the browser enforces CORS
/// on every SDK request exactly as it does for a web shop.
/// </summary>
public static class BrowserSdkPage
{
    public const string ChromiumPath = "/usr/bin/chromium";

    private static readonly Dictionary<string, object> Flags = new()
    {
        ["dark_mode"] = false,
        ["banner_text"] = "default",
        ["page_size"] = -1,
        ["checkout_layout"] = new Dictionary<string, object>(),
    };

    /// <summary>
    /// Against any FfProxy serving <paramref name="configDir"/>: the page becomes ready with every sample flag
    /// evaluated, connects its stream, sees an offline edit as a change within 3 s, posts metrics, and the browser
    /// console shows no error (a CORS refusal is always one).
    /// </summary>
    public static async Task RunAsync(Uri proxy, string configDir)
    {
        await using var site = await StartSiteAsync();
        using var profile = new TempDirectory();
        using var playwright = await Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchPersistentContextAsync(profile.Path, new BrowserTypeLaunchPersistentContextOptions
        {
            ExecutablePath = ChromiumPath,
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync"],
        });
        var page = browser.Pages.Count > 0 ? browser.Pages[0] : await browser.NewPageAsync();
        var problems = new List<string>();
        page.Console += (_, message) =>
        {
            if (message.Type is "error" or "warning")
            {
                lock (problems)
                {
                    problems.Add($"console {message.Type}: {message.Text}");
                }
            }
        };
        page.PageError += (_, error) =>
        {
            lock (problems)
            {
                problems.Add("page error: " + error);
            }
        };

        var query = $"?proxy={Uri.EscapeDataString(proxy.ToString().TrimEnd('/'))}&key={Sample.ClientKey}&env={Sample.Environment}" +
                    $"&flags={Uri.EscapeDataString(JsonSerializer.Serialize(Flags))}";
        Assert.NotEqual(new Uri(site.Origin).Authority, proxy.Authority);
        await page.GotoAsync(site.Origin + "/" + query);

        await WaitAsync(page, "() => window.ffState.ready && window.ffState.connected", TimeSpan.FromSeconds(30), problems, "ready with a connected stream");
        var values = JsonDocument.Parse(await page.EvaluateAsync<string>("() => JSON.stringify(window.ffState.values)")).RootElement;
        Assert.True(values.GetProperty("dark_mode").GetBoolean());                          // rule: email ends_with @example.com
        Assert.Equal("Hello, beta tester", values.GetProperty("banner_text").GetString());  // group rule: plan equal beta
        Assert.Equal(10, values.GetProperty("page_size").GetDouble());                      // rollout: identifier:carol
        Assert.True(JsonElement.DeepEquals(JsonDocument.Parse("{\"columns\":2,\"express\":true}").RootElement, values.GetProperty("checkout_layout")));

        var path = Path.Combine(Sample.EnvironmentDirectory(configDir), "feature_config.json");
        var edited = (await File.ReadAllTextAsync(path)).Replace("Hello, beta tester", "Edited in the browser", StringComparison.Ordinal);
        var watch = Stopwatch.StartNew(); // from the write
        await File.WriteAllTextAsync(path, edited);
        await WaitAsync(page, "() => window.ffState.values.banner_text === 'Edited in the browser' && window.ffState.changes.includes('banner_text')",
            TimeSpan.FromSeconds(20), problems, "the edit as a change");
        watch.Stop();
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(3), $"the change took {watch.Elapsed} to reach the browser");

        Assert.Equal(200, await page.EvaluateAsync<int>("() => window.postMetrics()"));
        Assert.Empty(await page.EvaluateAsync<string[]>("() => window.ffState.errors"));
        lock (problems)
        {
            Assert.Empty(problems);
        }
    }

    private static async Task WaitAsync(IPage page, string condition, TimeSpan timeout, List<string> problems, string what)
    {
        try
        {
            await page.WaitForFunctionAsync(condition, null, new PageWaitForFunctionOptions { Timeout = (float)timeout.TotalMilliseconds, PollingInterval = 50 });
        }
        catch (TimeoutException)
        {
            string seen;
            lock (problems)
            {
                seen = string.Join("\n", problems);
            }

            Assert.Fail($"the page did not show {what} within {timeout}. State: {await page.EvaluateAsync<string>("() => JSON.stringify(window.ffState)")}\n{seen}");
        }
    }

    /// <summary>The shop's origin: the page and the SDK bundle from the locked npm package.</summary>
    private static async Task<Site> StartSiteAsync()
    {
        var bundle = Path.Combine(NodeSdkRunner.NodeDirectory, "node_modules", "@harnessio", "ff-javascript-client-sdk", "dist", "sdk.client-iife.js");
        await Commands.NpmCiAsync(NodeSdkRunner.NodeDirectory, Path.Combine("@harnessio", "ff-javascript-client-sdk"));

        var html = Path.Combine(RepositoryPaths.TestProject, "Browser", "sdk-page.html");
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        var app = builder.Build();
        app.Urls.Add("http://127.0.0.1:0");
        app.MapGet("/", () => Results.File(html, "text/html; charset=utf-8"));
        app.MapGet("/sdk.js", () => Results.File(bundle, "text/javascript; charset=utf-8"));
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new Site(app, address);
    }

    private sealed class Site(WebApplication app, string origin) : IAsyncDisposable
    {
        public string Origin { get; } = origin;

        public ValueTask DisposeAsync() => app.DisposeAsync();
    }
}

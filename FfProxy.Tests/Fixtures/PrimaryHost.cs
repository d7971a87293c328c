using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace FfProxy.Tests.Fixtures;

/// <summary>
/// A real FfProxy.Primary on a loopback Kestrel port, configured like a deployment through its documented
/// variables. Offline on a private copy of the sample configuration unless told otherwise.
/// </summary>
public sealed class PrimaryHost : IAsyncDisposable
{
    public const string AuthSecret = "tests-auth-secret";

    private readonly IAsyncDisposable _factory;
    private readonly TempDirectory? _configCopy;

    private PrimaryHost(IAsyncDisposable factory, IServiceProvider services, TempDirectory? configCopy, string configDir)
    {
        _factory = factory;
        _configCopy = configCopy;
        ConfigDir = configDir;
        Services = services;
        var addresses = services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!;
        BaseAddress = new Uri(addresses.Addresses.First());
        Client = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
    }

    public Uri BaseAddress { get; }

    public HttpClient Client { get; }

    public string ConfigDir { get; }

    public IServiceProvider Services { get; }

    /// <summary>Starts an offline Primary. <paramref name="settings"/> are extra variables (name → value).</summary>
    public static PrimaryHost StartOffline(IDictionary<string, string>? settings = null, string? configSource = null, CapturedLogs? logs = null)
    {
        var copy = new TempDirectory(configSource ?? RepositoryPaths.SampleConfig);
        var all = new Dictionary<string, string>
        {
            ["OFFLINE"] = "true",
            ["CONFIG_DIR"] = copy.Path,
            ["AUTH_SECRET"] = AuthSecret,
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string>())
        {
            all[key] = value;
        }

        return Start(all, copy, copy.Path, logs);
    }

    public static PrimaryHost Start(IDictionary<string, string> settings, TempDirectory? owned = null, string configDir = "", CapturedLogs? logs = null)
    {
        var factory = Launch<FfProxy.Primary.PrimaryMarker>(settings, logs);
        return new PrimaryHost(factory, factory.Services, owned, configDir);
    }

    /// <summary>Starts a Read Replica (FfProxy.Replica) the same way; it needs REDIS_ADDRESS.</summary>
    public static PrimaryHost StartReplica(IDictionary<string, string> settings, CapturedLogs? logs = null)
    {
        var factory = Launch<FfProxy.Replica.ReplicaMarker>(settings, logs);
        return new PrimaryHost(factory, factory.Services, null, "");
    }

    /// <summary>Starts the YARP Gateway (FfProxy.Gateway) in front of <c>UPSTREAMS</c>.</summary>
    public static PrimaryHost StartGateway(IDictionary<string, string> settings)
    {
        var factory = Launch<FfProxy.Gateway.GatewayMarker>(settings, null);
        return new PrimaryHost(factory, factory.Services, null, "");
    }

    /// <summary>For a Gateway: waits until its own view (<c>/gateway/health</c>) counts <paramref name="count"/> healthy upstreams.</summary>
    public Task WaitForHealthyUpstreamsAsync(int count, TimeSpan within) =>
        Eventually.TrueAsync(async () => (await Client.GetFromJsonAsync<JsonElement>(FfProxy.Gateway.SdkRouting.GatewayHealthPath)).GetProperty("healthyUpstreams").GetInt32() == count,
            within, $"the Gateway counts {count} healthy upstreams");

    private static WebApplicationFactory<TMarker> Launch<TMarker>(IDictionary<string, string> settings, CapturedLogs? logs)
        where TMarker : class
    {
        var factory = new WebApplicationFactory<TMarker>().WithWebHostBuilder(web =>
        {
            web.UseSetting("urls", "http://127.0.0.1:0");
            foreach (var (key, value) in settings)
            {
                web.UseSetting(key, value);
            }

            web.ConfigureLogging(logging =>
            {
                if (logs is null)
                {
                    logging.SetMinimumLevel(LogLevel.Warning);
                }
                else
                {
                    logging.AddProvider(logs);
                }
            });
        });
        factory.UseKestrel();
        factory.StartServer();
        return factory;
    }

    /// <summary><c>POST /client/auth</c> with an SDK key (and optional target); returns the token.</summary>
    public async Task<string> AuthenticateAsync(string sdkKey, object? target = null)
    {
        object request = target is null ? new { apiKey = sdkKey } : new { apiKey = sdkKey, target };
        using var response = await Client.PostAsJsonAsync("/client/auth", request);
        response.EnsureSuccessStatusCode();
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return body.RootElement.GetProperty("authToken").GetString()!;
    }

    /// <summary>A client that sends <c>Authorization: Bearer</c> with a token for <paramref name="sdkKey"/>.</summary>
    public async Task<HttpClient> AuthenticatedClientAsync(string sdkKey, object? target = null)
    {
        var token = await AuthenticateAsync(sdkKey, target);
        var client = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
        client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        return client;
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await _factory.DisposeAsync();
        _configCopy?.Dispose();
    }
}

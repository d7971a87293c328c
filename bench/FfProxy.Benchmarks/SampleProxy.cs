using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using FfProxy.Primary;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.Logging;

namespace FfProxy.Benchmarks;

/// <summary>
/// The real Primary, offline on <c>config/sample</c> with the in-memory store (the Replica serves from the same
/// snapshots), behind an in-memory server: requests run the whole ASP.NET Core pipeline (routing, JWT
/// authentication, the SDK API) without sockets, so the figures are the proxy's own cost.
/// </summary>
public sealed class SampleProxy : IAsyncDisposable
{
    public const string Environment = "8d9c2b3a-5e4f-4a1b-9c8d-7e6f5a4b3c2d";
    public const string ClientKey = "b7e2c4d6-1a3f-4e5b-8c9d-0f1e2d3c4b5a";
    public const string AuthBody = """{"apiKey":"b7e2c4d6-1a3f-4e5b-8c9d-0f1e2d3c4b5a","target":{"identifier":"staff-1","name":"Staff","attributes":{"email":"staff@example.com"}}}""";

    private readonly WebApplicationFactory<PrimaryMarker> _factory;
    private readonly HttpClient _client;

    private SampleProxy(WebApplicationFactory<PrimaryMarker> factory)
    {
        _factory = factory;
        _client = factory.CreateClient();
    }

    public IServiceProvider Services => _factory.Services;

    public static Task<SampleProxy> StartAsync() => StartAsync(Path.Combine(RepositoryRoot(), "config", "sample"), AuthBody);

    /// <summary>The same, offline on <paramref name="configDir"/>, authenticated with <paramref name="authBody"/>.</summary>
    public static async Task<SampleProxy> StartAsync(string configDir, string authBody)
    {
        var factory = new WebApplicationFactory<PrimaryMarker>().WithWebHostBuilder(web =>
        {
            web.UseSetting("OFFLINE", "true");
            web.UseSetting("CONFIG_DIR", configDir);
            web.UseSetting("AUTH_SECRET", "benchmark-auth-secret");
            web.UseSetting("HEARTBEAT_INTERVAL", "0");
            web.ConfigureLogging(logging => logging.SetMinimumLevel(LogLevel.Warning));
        });
        var proxy = new SampleProxy(factory);
        using var auth = await proxy._client.PostAsync("/client/auth", new StringContent(authBody, Encoding.UTF8, "application/json"));
        auth.EnsureSuccessStatusCode();
        using var body = JsonDocument.Parse(await auth.Content.ReadAsStringAsync());
        proxy._client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", body.RootElement.GetProperty("authToken").GetString());
        return proxy;
    }

    /// <summary>GET <paramref name="path"/>; fails unless 200, so a broken route cannot pass for a fast one.</summary>
    public async Task<int> GetAsync(string path)
    {
        using var response = await _client.GetAsync(path);
        return await BodyLengthAsync(response);
    }

    public async Task<int> PostAsync(string path, string json)
    {
        using var content = new StringContent(json, Encoding.UTF8, "application/json");
        using var response = await _client.PostAsync(path, content);
        return await BodyLengthAsync(response);
    }

    public async ValueTask DisposeAsync()
    {
        _client.Dispose();
        await _factory.DisposeAsync();
    }

    private static async Task<int> BodyLengthAsync(HttpResponseMessage response)
    {
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"{response.RequestMessage?.RequestUri} answered {(int)response.StatusCode}");
        }

        return (await response.Content.ReadAsByteArrayAsync()).Length;
    }

    public static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "FfProxy.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("FfProxy.sln not found above " + AppContext.BaseDirectory);
    }
}

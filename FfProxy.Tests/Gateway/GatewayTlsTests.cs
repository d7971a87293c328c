using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using FfProxy.Tests.Fixtures;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace FfProxy.Tests.Gateway;

/// <summary>
/// The Gateway as the public door: HTTPS from TLS_CERT/TLS_KEY on PORT, and the client's address, scheme and host
/// passed on to the upstream in the X-Forwarded-* headers.
/// </summary>
public sealed class GatewayTlsTests : IAsyncLifetime, IAsyncDisposable
{
    private readonly TlsFiles _files = new();
    private WebApplication? _upstream;

    [Fact]
    public async Task The_gateway_serves_https_from_pem_files_and_tells_the_upstream_who_asked_and_how()
    {
        var port = RedisServer.FreePort();
        await using var gateway = PrimaryHost.StartGateway(new Dictionary<string, string>
        {
            ["PORT"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["TLS_ENABLED"] = "true",
            ["TLS_CERT"] = _files.ServerCert,
            ["TLS_KEY"] = _files.ServerKey,
            ["UPSTREAMS"] = UpstreamAddress,
            ["FfProxy:Gateway:HealthCheckInterval"] = "00:00:00.500",
        });
        using var https = TrustingTestServer();
        var door = new Uri($"https://localhost:{port}");

        var seen = await https.GetFromJsonAsync<JsonElement>(new Uri(door, "/client/echo"));
        Assert.Equal("https", seen.GetProperty("proto").GetString());
        Assert.Equal($"localhost:{port}", seen.GetProperty("host").GetString());
        Assert.Contains(seen.GetProperty("for").GetString(), (string[])["127.0.0.1", "::1", "::ffff:127.0.0.1"]);
        Assert.Equal(HttpStatusCode.OK, (await https.GetAsync(new Uri(door, "/health"))).StatusCode);

        // HTTPS only: a plain HTTP request to the same port gets no answer it could use.
        using var plain = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        var plainAnswer = await Record.ExceptionAsync(async () =>
        {
            using var response = await plain.GetAsync($"http://localhost:{port}/client/echo");
            Assert.NotEqual(HttpStatusCode.OK, response.StatusCode);
        });
        Assert.True(plainAnswer is null or HttpRequestException, plainAnswer?.ToString());
    }

    public async Task InitializeAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        _upstream = builder.Build();
        _upstream.MapGet("/health", () => Results.Ok());
        _upstream.MapGet("/client/echo", (HttpRequest request) => Results.Json(new Dictionary<string, string>
        {
            ["proto"] = request.Headers["X-Forwarded-Proto"].ToString(),
            ["host"] = request.Headers["X-Forwarded-Host"].ToString(),
            ["for"] = request.Headers["X-Forwarded-For"].ToString(),
        }));
        await _upstream.StartAsync();
    }

    public async Task DisposeAsync()
    {
        if (_upstream is not null)
        {
            await _upstream.DisposeAsync();
        }

        _files.Dispose();
    }

    async ValueTask IAsyncDisposable.DisposeAsync() => await DisposeAsync();

    private string UpstreamAddress =>
        _upstream!.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();

    /// <summary>A client that also trusts the server certificate the test made (for the right host name).</summary>
    private HttpClient TrustingTestServer()
    {
        var files = _files;
        var handler = new HttpClientHandler
        {
            ServerCertificateCustomValidationCallback = (_, certificate, _, errors) =>
                errors == System.Net.Security.SslPolicyErrors.None
                || ((errors & System.Net.Security.SslPolicyErrors.RemoteCertificateNameMismatch) == 0 && files.IsServerCertificate(certificate)),
        };
        return new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(30) };
    }
}

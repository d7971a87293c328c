using System.Net;
using System.Text.Json;
using FfProxy.Tests.Fixtures;

namespace FfProxy.Tests.Gateway;

/// <summary>
/// The Gateway's public port answers as a Go proxy does where scripts and load balancers look: <c>/health</c> is the
/// proxy's health JSON, unknown paths and wrong methods get the proxy's answers, and with no healthy upstream
/// <c>/health</c> is a 503 with a JSON message.
/// </summary>
public sealed class GatewayPublicFaceTests
{
    [Fact]
    public async Task Health_unknown_paths_and_wrong_methods_come_from_the_proxy()
    {
        await using var primary = PrimaryHost.StartOffline();
        await using var gateway = PrimaryHost.StartGateway(new Dictionary<string, string> { ["UPSTREAMS"] = primary.BaseAddress.ToString().TrimEnd('/') });

        using var health = await gateway.Client.GetAsync("/health");
        using var missing = await gateway.Client.GetAsync("/no/such/route");
        using var wrongMethod = await gateway.Client.DeleteAsync("/stream");
        using var own = await gateway.Client.GetAsync("/gateway/health");

        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        var body = JsonDocument.Parse(await health.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal("CONNECTED", body.GetProperty("streamStatus").GetProperty("state").GetString());
        Assert.Equal("healthy", body.GetProperty("cacheStatus").GetString());
        Assert.True(body.TryGetProperty("configStatus", out _));
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        Assert.Equal("{\"message\":\"Not Found\"}\n", await missing.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.MethodNotAllowed, wrongMethod.StatusCode);
        Assert.Equal("{\"message\":\"Method Not Allowed\"}\n", await wrongMethod.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.OK, own.StatusCode);
        Assert.Equal(1, JsonDocument.Parse(await own.Content.ReadAsStringAsync()).RootElement.GetProperty("healthyUpstreams").GetInt32());
    }

    [Fact]
    public async Task Health_is_a_503_with_a_json_message_when_no_upstream_is_healthy()
    {
        var primary = PrimaryHost.StartOffline();
        await using var gateway = PrimaryHost.StartGateway(new Dictionary<string, string>
        {
            ["UPSTREAMS"] = primary.BaseAddress.ToString().TrimEnd('/'),
            ["FfProxy:Gateway:HealthCheckInterval"] = "00:00:00.300",
        });
        Assert.Equal(HttpStatusCode.OK, (await gateway.Client.GetAsync("/health")).StatusCode);

        await primary.DisposeAsync();
        await Eventually.TrueAsync(async () => (await gateway.Client.GetAsync("/gateway/health")).StatusCode == HttpStatusCode.ServiceUnavailable,
            TimeSpan.FromSeconds(10), "the Gateway saw its upstream go");
        using var health = await gateway.Client.GetAsync("/health");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, health.StatusCode);
        Assert.Equal("application/json", health.Content.Headers.ContentType?.MediaType);
        Assert.Equal("no healthy upstream", JsonDocument.Parse(await health.Content.ReadAsStringAsync()).RootElement.GetProperty("message").GetString());
    }
}

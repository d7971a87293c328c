using System.Net;
using System.Net.Http.Headers;
using FfProxy.Tests.Fixtures;

namespace FfProxy.Tests.Sdk;

/// <summary>
/// CORS as the Go proxy's echo middleware answers it (spec §2.2 step 3), straight from a Primary and through the
/// Gateway, which forwards preflights to its upstream: every SDK route answers an OPTIONS preflight 204 before
/// authentication, <c>Access-Control-Allow-Origin</c> only when the request names an <c>Origin</c>, and
/// <c>Vary: Origin</c> on every response.
/// </summary>
public sealed class CorsTests : IAsyncLifetime
{
    private const string Origin = "https://shop.example";
    private PrimaryHost _primary = null!;
    private PrimaryHost _gateway = null!;

    public static TheoryData<string, string> SdkRoutes() => new()
    {
        { "direct", "/client/auth" },
        { "direct", $"/client/env/{Sample.Environment}/feature-configs" },
        { "direct", $"/client/env/{Sample.Environment}/feature-configs/dark_mode" },
        { "direct", $"/client/env/{Sample.Environment}/target-segments" },
        { "direct", $"/client/env/{Sample.Environment}/target-segments/beta-testers" },
        { "direct", $"/client/env/{Sample.Environment}/target/u1/evaluations" },
        { "direct", $"/client/env/{Sample.Environment}/target/u1/evaluations/dark_mode" },
        { "direct", "/stream?cluster=1" },
        { "direct", $"/metrics/{Sample.Environment}?cluster=1" },
        { "direct", "/health" },
        { "gateway", "/client/auth" },
        { "gateway", $"/client/env/{Sample.Environment}/feature-configs" },
        { "gateway", $"/client/env/{Sample.Environment}/feature-configs/dark_mode" },
        { "gateway", $"/client/env/{Sample.Environment}/target-segments" },
        { "gateway", $"/client/env/{Sample.Environment}/target-segments/beta-testers" },
        { "gateway", $"/client/env/{Sample.Environment}/target/u1/evaluations" },
        { "gateway", $"/client/env/{Sample.Environment}/target/u1/evaluations/dark_mode" },
        { "gateway", "/stream?cluster=1" },
        { "gateway", $"/metrics/{Sample.Environment}?cluster=1" },
        { "gateway", "/health" },
    };

    public Task InitializeAsync()
    {
        _primary = PrimaryHost.StartOffline();
        _gateway = PrimaryHost.StartGateway(new Dictionary<string, string> { ["UPSTREAMS"] = _primary.BaseAddress.ToString().TrimEnd('/') });
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _gateway.DisposeAsync();
        await _primary.DisposeAsync();
    }

    [Theory]
    [MemberData(nameof(SdkRoutes))]
    public async Task A_browser_preflight_is_answered_204_with_the_go_proxy_headers(string door, string path)
    {
        using var request = new HttpRequestMessage(HttpMethod.Options, path);
        request.Headers.Add("Origin", Origin);
        request.Headers.Add("Access-Control-Request-Method", path.StartsWith("/metrics", StringComparison.Ordinal) ? "POST" : "GET");
        request.Headers.Add("Access-Control-Request-Headers", "authorization,api-key,harness-target,content-type");
        using var response = await Client(door).SendAsync(request);

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        Assert.Equal("*", Single(response, "Access-Control-Allow-Origin"));
        Assert.Equal("GET,OPTIONS,POST", Single(response, "Access-Control-Allow-Methods"));
        Assert.Equal("*,Authorization", Single(response, "Access-Control-Allow-Headers"));
        Assert.Equal(["Origin", "Access-Control-Request-Method", "Access-Control-Request-Headers"], Vary(response));
        Assert.False(response.Headers.Contains("Access-Control-Max-Age"));
    }

    [Theory]
    [InlineData("direct")]
    [InlineData("gateway")]
    public async Task Without_an_origin_a_preflight_is_204_without_allow_headers(string door)
    {
        using var request = new HttpRequestMessage(HttpMethod.Options, "/stream");
        using var response = await Client(door).SendAsync(request);

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        Assert.False(response.Headers.Contains("Access-Control-Allow-Origin"));
        Assert.False(response.Headers.Contains("Access-Control-Allow-Methods"));
        Assert.Equal(["Origin"], Vary(response));
    }

    [Theory]
    [InlineData("direct")]
    [InlineData("gateway")]
    public async Task Simple_requests_allow_any_origin_only_when_one_is_named_and_always_vary_on_it(string door)
    {
        var client = Client(door);
        using var sdk = new HttpRequestMessage(HttpMethod.Get, $"/client/env/{Sample.Environment}/feature-configs");
        sdk.Headers.Authorization = new AuthenticationHeaderValue("Bearer", await _primary.AuthenticateAsync(Sample.ServerKey));
        sdk.Headers.Add("Origin", Origin);
        using var withOrigin = await client.SendAsync(sdk);
        using var unauthorised = await client.SendAsync(WithOrigin(new HttpRequestMessage(HttpMethod.Get, "/stream")));
        using var withoutOrigin = await client.GetAsync("/health");

        Assert.Equal(HttpStatusCode.OK, withOrigin.StatusCode);
        Assert.Equal("*", Single(withOrigin, "Access-Control-Allow-Origin"));
        Assert.Equal(["Origin"], Vary(withOrigin));
        Assert.Equal(HttpStatusCode.Unauthorized, unauthorised.StatusCode);
        Assert.Equal("*", Single(unauthorised, "Access-Control-Allow-Origin"));
        Assert.Equal(HttpStatusCode.OK, withoutOrigin.StatusCode);
        Assert.False(withoutOrigin.Headers.Contains("Access-Control-Allow-Origin"));
        Assert.Equal(["Origin"], Vary(withoutOrigin));
    }

    private HttpClient Client(string door) => door == "gateway" ? _gateway.Client : _primary.Client;

    private static HttpRequestMessage WithOrigin(HttpRequestMessage request)
    {
        request.Headers.Add("Origin", Origin);
        return request;
    }

    private static string Single(HttpResponseMessage response, string header) =>
        Assert.Single(response.Headers.TryGetValues(header, out var values) ? values : []);

    private static string[] Vary(HttpResponseMessage response) =>
        response.Headers.Vary.SelectMany(v => v.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)).ToArray();
}

using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using FfProxy.Core.Caching;
using FfProxy.Core.Configuration;
using FfProxy.Core.Sdk;
using FfProxy.Tests.Fixtures;
using Microsoft.Extensions.Configuration;

namespace FfProxy.Tests.Sdk;

public sealed class AuthenticationTests : IAsyncLifetime
{
    private PrimaryHost _proxy = null!;

    public Task InitializeAsync()
    {
        _proxy = PrimaryHost.StartOffline();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await _proxy.DisposeAsync();

    [Fact]
    public async Task Known_sdk_key_gets_a_token_with_exactly_the_go_proxy_claims()
    {
        var token = await _proxy.AuthenticateAsync(Sample.ServerKey);

        var parts = token.Split('.');
        Assert.Equal(3, parts.Length);
        Assert.Equal("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", Encoding.UTF8.GetString(Base64Url(parts[0])));
        using var payload = JsonDocument.Parse(Base64Url(parts[1]));
        var names = payload.RootElement.EnumerateObject().Select(p => p.Name).ToArray();
        Assert.Equal(["apiKey", "environment", "clusterIdentifier", "nbf", "iat"], names);
        Assert.Equal("auth-key-" + SdkKeyHash.Compute(Sample.ServerKey), payload.RootElement.GetProperty("apiKey").GetString());
        Assert.Equal(Sample.Environment, payload.RootElement.GetProperty("environment").GetString());
        Assert.Equal("1", payload.RootElement.GetProperty("clusterIdentifier").GetString());
        Assert.Equal(payload.RootElement.GetProperty("nbf").GetInt64(), payload.RootElement.GetProperty("iat").GetInt64());
    }

    [Fact]
    public async Task Unknown_sdk_key_is_unauthorised()
    {
        using var response = await Post("/client/auth", "{\"apiKey\":\"not-a-key-of-this-proxy\"}");

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("{\"error\":\"unauthorised\"}\n", await response.Content.ReadAsStringAsync());
    }

    [Theory]
    [InlineData("", "request body is empty")]
    [InlineData("{\"apiKey\":", "not a valid auth request")]
    [InlineData("[1,2]", "not a valid auth request")]
    [InlineData("{\"apiKey\":42}", "not a valid auth request")]
    [InlineData("{}", "apiKey cannot be empty")]
    [InlineData("{\"apiKey\":\"\"}", "apiKey cannot be empty")]
    [InlineData("{\"apiKey\":\"k\",\"target\":{\"identifier\":\"has space\"}}", "target identifier")]
    [InlineData("{\"apiKey\":\"k\",\"target\":{\"identifier\":\"ok\",\"name\":\"semi;colon\"}}", "target name")]
    [InlineData("{\"apiKey\":\"k\",\"target\":{\"identifier\":\"abc\\n\"}}", "target identifier")]
    [InlineData("{\"apiKey\":\"k\",\"target\":{\"identifier\":\"ok\",\"name\":\"Ann\\n\"}}", "target name")]
    [InlineData("{\"apiKey\":\"k\",\"target\":{\"identifier\":\"ok\",\"attributes\":[1]}}", "not a valid auth request")]
    public async Task Malformed_auth_requests_get_400_with_a_message(string body, string expected)
    {
        using var response = await Post("/client/auth", body);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var text = await response.Content.ReadAsStringAsync();
        Assert.Contains(expected, text, StringComparison.Ordinal);
        using var json = JsonDocument.Parse(text);
        Assert.True(json.RootElement.TryGetProperty("error", out _));
    }

    [Fact]
    public async Task Malformed_auth_request_never_echoes_the_sdk_key()
    {
        using var response = await Post("/client/auth", "{\"apiKey\":\"" + Sample.ServerKey + "\",\"target\":{\"identifier\":\"bad id\"}}");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.DoesNotContain(Sample.ServerKey, await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("{\"identifier\":null}")]
    [InlineData("{}")]
    [InlineData("null")]
    [InlineData("{\"identifier\":\"x\",\"name\":null,\"attributes\":{\"nested\":{\"a\":[1,null]}}}")]
    public async Task Odd_but_well_formed_targets_still_authenticate(string target)
    {
        using var response = await Post("/client/auth", $"{{\"apiKey\":\"{Sample.ClientKey}\",\"target\":{target}}}");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task Unicode_letters_are_allowed_in_target_names()
    {
        var token = await _proxy.AuthenticateAsync(Sample.ClientKey, new { identifier = "user.1@x_y-z", name = "Zoë Ærø 42" });

        Assert.False(string.IsNullOrEmpty(token));
    }

    [Fact]
    public async Task Protected_routes_need_a_bearer_token()
    {
        using var response = await _proxy.Client.GetAsync($"/client/env/{Sample.Environment}/feature-configs");

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("{\"message\":\"missing or malformed jwt\"}\n", await response.Content.ReadAsStringAsync());
    }

    [Theory]
    [InlineData("garbage")]
    [InlineData("a.b.c")]
    public async Task Garbage_tokens_are_rejected_with_401(string token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/client/env/{Sample.Environment}/feature-configs");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var response = await _proxy.Client.SendAsync(request);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Fact]
    public async Task Token_with_a_tampered_signature_is_rejected()
    {
        var token = await _proxy.AuthenticateAsync(Sample.ServerKey);
        var tampered = token[..^2] + (token[^2] == 'A' ? "B" : "A") + token[^1];

        using var response = await GetWithToken(tampered, $"/client/env/{Sample.Environment}/feature-configs");

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Fact]
    public async Task Token_signed_with_another_secret_is_rejected()
    {
        var foreign = TokenFor("some-other-secret");

        using var response = await GetWithToken(foreign, $"/client/env/{Sample.Environment}/feature-configs");

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    /// <summary>
    /// Tokens signed with this proxy's secret are still checked per request: their times (with 30 s of clock skew) and
    /// the form of their SDK key claim.
    /// </summary>
    [Theory]
    [InlineData("exp", -120, HttpStatusCode.Unauthorized)]
    [InlineData("exp", -10, HttpStatusCode.OK)]
    [InlineData("nbf", 120, HttpStatusCode.Unauthorized)]
    [InlineData("nbf", 10, HttpStatusCode.OK)]
    [InlineData("iat", 120, HttpStatusCode.Unauthorized)]
    [InlineData("iat", -3600, HttpStatusCode.OK)]
    public async Task Signed_tokens_are_refused_outside_their_times(string claim, int offsetSeconds, HttpStatusCode expected)
    {
        var at = DateTimeOffset.UtcNow.ToUnixTimeSeconds() + offsetSeconds;
        var token = Signed($$"""{"apiKey":"auth-key-{{SdkKeyHash.Compute(Sample.ServerKey)}}","environment":"{{Sample.Environment}}","{{claim}}":{{at}}}""");

        using var response = await GetWithToken(token, $"/client/env/{Sample.Environment}/feature-configs");

        Assert.Equal(expected, response.StatusCode);
        if (expected == HttpStatusCode.Unauthorized)
        {
            Assert.Equal("{\"message\":\"invalid or expired jwt\"}\n", await response.Content.ReadAsStringAsync());
        }
    }

    [Theory]
    [InlineData("""{"environment":"ENV"}""")]
    [InlineData("""{"apiKey":"KEY"}""")]
    [InlineData("""{"apiKey":"not-an-auth-key","environment":"ENV"}""")]
    [InlineData("""{"apiKey":"auth-key-0000000000000000000000000000000000000000000000000000000000000000","environment":"ENV"}""")]
    public async Task Signed_tokens_without_a_current_sdk_key_of_the_environment_are_refused(string payload)
    {
        var token = Signed(payload.Replace("ENV", Sample.Environment, StringComparison.Ordinal)
            .Replace("KEY", "auth-key-" + SdkKeyHash.Compute(Sample.ServerKey), StringComparison.Ordinal));

        using var response = await GetWithToken(token, $"/client/env/{Sample.Environment}/feature-configs");

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("{\"message\":\"invalid or expired jwt\"}\n", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Token_for_another_environment_is_refused_with_the_mismatch_message()
    {
        var token = await _proxy.AuthenticateAsync(Sample.ServerKey);

        using var response = await GetWithToken(token, "/client/env/other-env/feature-configs");

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal($"{{\"message\":\"Environment ID [{Sample.Environment}] mismatch with requested other-env\"}}\n", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Tokens_signed_with_a_legacy_secret_are_accepted_after_rotation()
    {
        await using var rotated = PrimaryHost.StartOffline(new Dictionary<string, string>
        {
            ["AUTH_SECRET"] = "the-new-secret",
            ["LEGACY_SECRETS"] = "first-old-secret, " + PrimaryHost.AuthSecret,
        });
        var oldToken = await _proxy.AuthenticateAsync(Sample.ServerKey);

        using var request = new HttpRequestMessage(HttpMethod.Get, $"/client/env/{Sample.Environment}/feature-configs");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", oldToken);
        using var response = await rotated.Client.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task Bypass_auth_serves_without_a_token()
    {
        await using var open = PrimaryHost.StartOffline(new Dictionary<string, string> { ["BYPASS_AUTH"] = "true" });

        using var response = await open.Client.GetAsync($"/client/env/{Sample.Environment}/feature-configs");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    private async Task<HttpResponseMessage> Post(string path, string body)
    {
        using var content = new StringContent(body, Encoding.UTF8, "application/json");
        return await _proxy.Client.PostAsync(path, content);
    }

    private async Task<HttpResponseMessage> GetWithToken(string token, string path)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return await _proxy.Client.SendAsync(request);
    }

    private static string TokenFor(string secret)
    {
        var options = ProxyOptionsReader.Read(new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["AUTH_SECRET"] = secret,
            ["OFFLINE"] = "true",
            ["CONFIG_DIR"] = RepositoryPaths.SampleConfig,
        }).Build());
        using var meters = new TestMeterFactory();
        var service = new TokenService(options, TimeProvider.System, new ProxyMetrics(meters, ProxyRole.Primary));
        return service.Issue("auth-key-" + SdkKeyHash.Compute(Sample.ServerKey), Sample.Environment);
    }

    /// <summary>An HS256 token with this payload, signed with the test proxy's AUTH_SECRET.</summary>
    private static string Signed(string payload)
    {
        var input = System.Buffers.Text.Base64Url.EncodeToString("{\"alg\":\"HS256\",\"typ\":\"JWT\"}"u8) + "."
            + System.Buffers.Text.Base64Url.EncodeToString(Encoding.UTF8.GetBytes(payload));
        var signature = System.Security.Cryptography.HMACSHA256.HashData(Encoding.UTF8.GetBytes(PrimaryHost.AuthSecret), Encoding.ASCII.GetBytes(input));
        return input + "." + System.Buffers.Text.Base64Url.EncodeToString(signature);
    }

    private static byte[] Base64Url(string text) => System.Buffers.Text.Base64Url.DecodeFromChars(text);
}

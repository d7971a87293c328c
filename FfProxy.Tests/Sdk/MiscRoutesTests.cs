using System.Net;
using System.Text;
using FfProxy.Tests.Fixtures;

namespace FfProxy.Tests.Sdk;

public sealed class MiscRoutesTests : IAsyncLifetime
{
    private PrimaryHost _proxy = null!;
    private HttpClient _sdk = null!;

    public async Task InitializeAsync()
    {
        _proxy = PrimaryHost.StartOffline();
        _sdk = await _proxy.AuthenticatedClientAsync(Sample.ServerKey);
    }

    public async Task DisposeAsync()
    {
        _sdk.Dispose();
        await _proxy.DisposeAsync();
    }

    [Fact]
    public async Task Sdk_metrics_are_accepted_with_a_null_body()
    {
        const string payload = "{\"metricsData\":[{\"timestamp\":1698669998778,\"count\":2,\"metricsType\":\"FFMETRICS\",\"attributes\":[{\"key\":\"featureIdentifier\",\"value\":\"dark_mode\"},{\"key\":\"SDK_TYPE\",\"value\":\"server\"},{\"key\":\"SDK_LANGUAGE\",\"value\":\"go\"},{\"key\":\"SDK_VERSION\",\"value\":\"0.2.0\"}]}],\"targetData\":[{\"identifier\":\"u1\",\"name\":\"U1\",\"attributes\":[]}]}";

        using var response = await _sdk.PostAsync($"/metrics/{Sample.Environment}?cluster=1", new StringContent(payload, Encoding.UTF8, "application/json"));
        using var empty = await _sdk.PostAsync($"/metrics/{Sample.Environment}", new StringContent("{}", Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("null\n", await response.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.OK, empty.StatusCode);
        var scrape = await _proxy.Client.GetStringAsync("/metrics");
        Assert.True(PrometheusText.HasSample(scrape, "ff_proxy_sdk_usage",
            ("envID", Sample.Environment), ("sdk_type", "server"), ("sdk_language", "go"), ("sdk_version", "0.2.0")), scrape);
    }

    [Theory]
    [InlineData("")]
    [InlineData("not json")]
    [InlineData("{\"metricsData\":\"oops\"}")]
    [InlineData("{\"metricsData\":[{\"count\":\"many\"}]}")]
    [InlineData("{\"metricsData\":[null]}")]
    [InlineData("{\"targetData\":[{\"identifier\":\"t\",\"attributes\":[null]}]}")]
    [InlineData("[]")]
    public async Task Malformed_metrics_are_400_not_500(string body)
    {
        using var response = await _sdk.PostAsync($"/metrics/{Sample.Environment}", new StringContent(body, Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.StartsWith("{\"error\":\"bad request", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Target_header_with_null_identifier_falls_back_to_the_path_target()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/client/env/{Sample.Environment}/target/beta-user/evaluations/dark_mode");
        request.Headers.Add("Harness-Target", Convert.ToBase64String(Encoding.UTF8.GetBytes("{\"identifier\":null,\"attributes\":{}}")));
        using var response = await _sdk.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("\"identifier\":\"true\"", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal); // beta-user is in the target map
    }

    [Fact]
    public async Task Oversized_body_is_refused_with_413()
    {
        var huge = new string('x', 5 * 1024 * 1024);

        using var response = await _sdk.PostAsync($"/metrics/{Sample.Environment}", new StringContent(huge, Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
    }

    [Theory]
    [InlineData("/client/auth", true)]
    [InlineData("/client/auth", false)]
    [InlineData("/metrics/" + Sample.Environment, true)]
    [InlineData("/metrics/" + Sample.Environment, false)]
    public async Task A_body_one_byte_over_4_MiB_is_413_with_a_json_message_with_or_without_a_length(string path, bool withLength)
    {
        using var content = Padded("{}", 4 * 1024 * 1024 + 1, withLength);
        using var response = await _sdk.PostAsync(path, content);

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.StartsWith("{\"error\":\"bad request: ", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_body_of_exactly_4_MiB_is_read()
    {
        using var content = Padded($"{{\"apiKey\":\"{Sample.ServerKey}\"}}", 4 * 1024 * 1024, withLength: true);
        using var response = await _proxy.Client.PostAsync("/client/auth", content);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("\"authToken\"", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_chunked_body_within_4_MiB_with_its_framing_is_read()
    {
        // Kestrel counts a chunked body's bytes as they arrive, chunk-size lines included (HttpClient's chunks
        // are at most 80 KiB, so well under 1 KiB of framing in 4 MiB).
        using var content = Padded($"{{\"apiKey\":\"{Sample.ServerKey}\"}}", 4 * 1024 * 1024 - 1024, withLength: false);
        using var response = await _proxy.Client.PostAsync("/client/auth", content);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("\"authToken\"", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    /// <summary>JSON followed by spaces up to <paramref name="size"/> bytes; chunked when sent without a length.</summary>
    private static HttpContent Padded(string json, int size, bool withLength)
    {
        var bytes = new byte[size];
        Array.Fill(bytes, (byte)' ');
        Encoding.UTF8.GetBytes(json, bytes);
        HttpContent content = withLength ? new ByteArrayContent(bytes) : new StreamContent(new UnknownLengthStream(bytes));
        content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        return content;
    }

    /// <summary>A stream that does not tell its length, so HttpClient sends it chunked.</summary>
    private sealed class UnknownLengthStream(byte[] bytes) : MemoryStream(bytes)
    {
        public override bool CanSeek => false;
    }

    [Fact]
    public async Task Metrics_for_another_environment_are_refused()
    {
        using var response = await _sdk.PostAsync("/metrics/other-env", new StringContent("{}", Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Fact]
    public async Task Unknown_path_and_wrong_method_get_the_go_json_bodies()
    {
        using var missing = await _proxy.Client.GetAsync("/no/such/route");
        using var wrongMethod = await _proxy.Client.PostAsync("/health", new StringContent(""));

        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        Assert.Equal("{\"message\":\"Not Found\"}\n", await missing.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.MethodNotAllowed, wrongMethod.StatusCode);
        Assert.Equal("{\"message\":\"Method Not Allowed\"}\n", await wrongMethod.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Request_id_is_echoed_or_generated()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/health");
        request.Headers.Add("X-Request-Id", "trace-me-42");
        using var echoed = await _proxy.Client.SendAsync(request);
        using var generated = await _proxy.Client.GetAsync("/health");

        Assert.Equal("trace-me-42", echoed.Headers.GetValues("X-Request-Id").Single());
        Assert.True(Guid.TryParse(generated.Headers.GetValues("X-Request-Id").Single(), out _));
    }

    [Fact]
    public async Task Prometheus_exposes_request_metrics_under_the_go_names_and_labels()
    {
        await _sdk.GetStringAsync($"/client/env/{Sample.Environment}/feature-configs");

        // A request is counted when it completes on the server, which can be just after its client has read the body.
        var scrape = "";
        await Eventually.TrueAsync(async () =>
        {
            scrape = await _proxy.Client.GetStringAsync("/metrics");
            return PrometheusText.HasSample(scrape, "ff_proxy_http_requests_total", ("url", "/client/env/:environment_uuid/feature-configs"));
        }, TimeSpan.FromSeconds(5), "the feature-configs request was counted");

        Assert.True(PrometheusText.HasSample(scrape, "ff_proxy_http_requests_total",
            ("code", "200"), ("envID", Sample.Environment), ("url", "/client/env/:environment_uuid/feature-configs")), scrape);
        Assert.True(PrometheusText.HasSample(scrape, "ff_proxy_http_requests_duration_bucket",
            ("url", "/client/env/:environment_uuid/feature-configs"), ("le", "0.005")), scrape);
        Assert.True(PrometheusText.HasSample(scrape, "ff_proxy_auth_current_secret_tokens_total"), scrape);
        Assert.True(PrometheusText.HasSample(scrape, "ff_http_requests_content_length_histogram_bucket", ("le", "100")), scrape);
        Assert.DoesNotContain("url=\"/health\"", scrape, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Liveness_answers_on_alive()
    {
        using var response = await _proxy.Client.GetAsync("/alive");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }
}

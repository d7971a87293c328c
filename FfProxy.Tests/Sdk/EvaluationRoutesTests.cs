using System.Net;
using System.Text;
using System.Text.Json;
using FfProxy.Tests.Fixtures;

namespace FfProxy.Tests.Sdk;

public sealed class EvaluationRoutesTests : IAsyncLifetime
{
    private PrimaryHost _proxy = null!;

    public Task InitializeAsync()
    {
        _proxy = PrimaryHost.StartOffline();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await _proxy.DisposeAsync();

    [Fact]
    public async Task Evaluations_use_the_target_stored_at_authentication()
    {
        using var sdk = await _proxy.AuthenticatedClientAsync(Sample.ClientKey,
            new { identifier = "visitor-7", name = "Visitor", attributes = new { email = "someone@example.com", plan = "beta" } });

        var values = await EvaluationsAsync(sdk, "visitor-7");

        Assert.Equal("true", values["dark_mode"].Value);           // rule: email ends_with @example.com
        Assert.Equal("Hello, beta tester", values["banner_text"].Value); // group rule: plan equal beta
        Assert.Equal("{\"columns\":2,\"express\":true}", values["checkout_layout"].Value); // prerequisite passes
    }

    [Fact]
    public async Task Harness_target_header_wins_over_the_stored_target()
    {
        using var sdk = await _proxy.AuthenticatedClientAsync(Sample.ClientKey, new { identifier = "visitor-8", attributes = new { email = "x@example.com" } });
        var header = Convert.ToBase64String(Encoding.UTF8.GetBytes("{\"identifier\":\"visitor-8\",\"name\":\"V\",\"attributes\":{\"email\":\"x@elsewhere.test\"}}"));
        sdk.DefaultRequestHeaders.Add("Harness-Target", header);

        var values = await EvaluationsAsync(sdk, "visitor-8");

        Assert.Equal("false", values["dark_mode"].Value);
        Assert.Equal("classic", values["checkout_layout"].Identifier); // prerequisite dark_mode=true fails
    }

    [Fact]
    public async Task Undecodable_target_header_is_ignored()
    {
        using var sdk = await _proxy.AuthenticatedClientAsync(Sample.ClientKey);
        sdk.DefaultRequestHeaders.Add("Harness-Target", "%%% not base64 %%%");

        var values = await EvaluationsAsync(sdk, "beta-user");

        Assert.Equal("true", values["dark_mode"].Value); // offline targets.json + target map
    }

    [Fact]
    public async Task Unknown_target_is_evaluated_by_identifier_alone()
    {
        using var sdk = await _proxy.AuthenticatedClientAsync(Sample.ClientKey);

        var values = await EvaluationsAsync(sdk, "never-seen");

        Assert.Equal(4, values.Count);
        Assert.Equal("false", values["dark_mode"].Value);
        Assert.Equal("Welcome to the shop", values["banner_text"].Value);
    }

    [Fact]
    public async Task Json_values_are_served_raw_not_double_encoded()
    {
        using var sdk = await _proxy.AuthenticatedClientAsync(Sample.ClientKey);

        var body = await sdk.GetStringAsync($"/client/env/{Sample.Environment}/target/beta-user/evaluations/checkout_layout?cluster=1");

        Assert.Equal("{\"flag\":\"checkout_layout\",\"identifier\":\"express\",\"kind\":\"json\",\"value\":\"{\\\"columns\\\":2,\\\"express\\\":true}\"}\n", body);
    }

    [Fact]
    public async Task Percentage_rollout_buckets_by_murmur3_of_the_identifier()
    {
        using var sdk = await _proxy.AuthenticatedClientAsync(Sample.ClientKey);

        // spec §7.5 vectors: identifier:alice → bucket 92, identifier:carol → bucket 17 (weights 50/50).
        Assert.Equal("25", (await EvaluationsAsync(sdk, "alice"))["page_size"].Value);
        Assert.Equal("10", (await EvaluationsAsync(sdk, "carol"))["page_size"].Value);
    }

    [Fact]
    public async Task Evaluation_of_an_unknown_flag_is_404()
    {
        using var sdk = await _proxy.AuthenticatedClientAsync(Sample.ClientKey);

        using var response = await sdk.GetAsync($"/client/env/{Sample.Environment}/target/beta-user/evaluations/nope");

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("{\"error\":\"not found\"}\n", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Flag_that_cannot_be_evaluated_is_listed_empty_and_fails_alone()
    {
        var env = Sample.EnvironmentDirectory(_proxy.ConfigDir);
        var path = Path.Combine(env, "feature_config.json");
        File.WriteAllText(path, File.ReadAllText(path).Replace("\"defaultServe\": { \"variation\": \"welcome\" }", "\"defaultServe\": { \"variation\": \"missing\" }", StringComparison.Ordinal));
        using var sdk = await _proxy.AuthenticatedClientAsync(Sample.ClientKey);

        await Eventually.TrueAsync(async () => (await EvaluationsAsync(sdk, "someone"))["banner_text"].Identifier == "");
        using var single = await sdk.GetAsync($"/client/env/{Sample.Environment}/target/someone/evaluations/banner_text");

        Assert.Equal(HttpStatusCode.InternalServerError, single.StatusCode);
        Assert.Contains("missing", await single.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    private static async Task<Dictionary<string, (string Identifier, string Value, string Kind)>> EvaluationsAsync(HttpClient sdk, string target)
    {
        using var json = JsonDocument.Parse(await sdk.GetStringAsync($"/client/env/{Sample.Environment}/target/{target}/evaluations?cluster=1"));
        return json.RootElement.EnumerateArray().ToDictionary(
            e => e.GetProperty("flag").GetString()!,
            e => (e.GetProperty("identifier").GetString()!, e.GetProperty("value").GetString()!, e.GetProperty("kind").GetString()!));
    }
}

using System.Net;
using System.Text.Json;
using FfProxy.Tests.Fixtures;

namespace FfProxy.Tests.Sdk;

public sealed class ConfigRoutesTests : IAsyncLifetime
{
    private PrimaryHost _proxy = null!;
    private HttpClient _sdk = null!;

    public async Task InitializeAsync()
    {
        _proxy = PrimaryHost.StartOffline(new Dictionary<string, string> { ["AND_RULES"] = "true" });
        _sdk = await _proxy.AuthenticatedClientAsync(Sample.ServerKey);
    }

    public async Task DisposeAsync()
    {
        _sdk.Dispose();
        await _proxy.DisposeAsync();
    }

    [Fact]
    public async Task Feature_configs_are_compact_json_ending_in_one_newline()
    {
        using var response = await _sdk.GetAsync($"/client/env/{Sample.Environment}/feature-configs?cluster=1");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json; charset=utf-8", response.Content.Headers.ContentType!.ToString());
        var body = await response.Content.ReadAsStringAsync();
        Assert.EndsWith("]\n", body, StringComparison.Ordinal);
        Assert.DoesNotContain("\n", body[..^1], StringComparison.Ordinal);
        using var json = JsonDocument.Parse(body);
        Assert.Equal(["dark_mode", "banner_text", "page_size", "checkout_layout"],
            json.RootElement.EnumerateArray().Select(f => f.GetProperty("feature").GetString()!).ToArray());
    }

    [Fact]
    public async Task Missing_variation_to_target_map_is_served_as_an_empty_array()
    {
        using var json = JsonDocument.Parse(await _sdk.GetStringAsync($"/client/env/{Sample.Environment}/feature-configs"));

        foreach (var flag in json.RootElement.EnumerateArray())
        {
            Assert.Equal(JsonValueKind.Array, flag.GetProperty("variationToTargetMap").ValueKind);
        }

        using var single = JsonDocument.Parse(await _sdk.GetStringAsync($"/client/env/{Sample.Environment}/feature-configs/page_size"));
        Assert.Equal(0, single.RootElement.GetProperty("variationToTargetMap").GetArrayLength());
    }

    [Fact]
    public async Task Unknown_fields_survive_the_round_trip()
    {
        var env = Sample.EnvironmentDirectory(_proxy.ConfigDir);
        var flags = File.ReadAllText(Path.Combine(env, "feature_config.json"))
            .Replace("\"feature\": \"page_size\",", "\"feature\": \"page_size\", \"futureField\": {\"nested\": [1, \"x\"]},", StringComparison.Ordinal);
        File.WriteAllText(Path.Combine(env, "feature_config.json"), flags);

        await Eventually.TrueAsync(async () =>
        {
            using var single = JsonDocument.Parse(await _sdk.GetStringAsync($"/client/env/{Sample.Environment}/feature-configs/page_size"));
            return single.RootElement.TryGetProperty("futureField", out var future)
                && future.GetProperty("nested")[1].GetString() == "x";
        });
    }

    [Fact]
    public async Task Etag_answers_304_when_the_sdk_has_the_current_list()
    {
        using var first = await _sdk.GetAsync($"/client/env/{Sample.Environment}/feature-configs");
        var etag = first.Headers.ETag!;

        using var request = new HttpRequestMessage(HttpMethod.Get, $"/client/env/{Sample.Environment}/feature-configs");
        request.Headers.IfNoneMatch.Add(etag);
        using var second = await _sdk.SendAsync(request);

        Assert.Equal(HttpStatusCode.NotModified, second.StatusCode);
        Assert.Empty(await second.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task Unknown_flag_and_group_are_404_with_an_error_body()
    {
        using var flag = await _sdk.GetAsync($"/client/env/{Sample.Environment}/feature-configs/nope");
        using var group = await _sdk.GetAsync($"/client/env/{Sample.Environment}/target-segments/nope");

        Assert.Equal(HttpStatusCode.NotFound, flag.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, group.StatusCode);
        Assert.StartsWith("{\"error\":\"not found", await flag.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.StartsWith("{\"error\":\"not found", await group.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Target_segments_carry_legacy_rules_unless_v2_is_asked_for_with_and_rules()
    {
        using var legacy = JsonDocument.Parse(await _sdk.GetStringAsync($"/client/env/{Sample.Environment}/target-segments?cluster=1"));
        using var v2 = JsonDocument.Parse(await _sdk.GetStringAsync($"/client/env/{Sample.Environment}/target-segments?cluster=1;rules=v2"));
        using var single = JsonDocument.Parse(await _sdk.GetStringAsync($"/client/env/{Sample.Environment}/target-segments/beta-testers?rules=v2"));

        var group = legacy.RootElement[0];
        Assert.True(group.TryGetProperty("rules", out _));
        Assert.False(group.TryGetProperty("servingRules", out _));
        Assert.False(v2.RootElement[0].TryGetProperty("rules", out _));
        Assert.False(single.RootElement.TryGetProperty("rules", out _));
        Assert.Equal("beta-testers", single.RootElement.GetProperty("identifier").GetString());
    }

    [Fact]
    public async Task Without_and_rules_v2_requests_still_get_legacy_rules()
    {
        await using var plain = PrimaryHost.StartOffline();
        using var sdk = await plain.AuthenticatedClientAsync(Sample.ServerKey);

        using var json = JsonDocument.Parse(await sdk.GetStringAsync($"/client/env/{Sample.Environment}/target-segments?rules=v2"));

        Assert.True(json.RootElement[0].TryGetProperty("rules", out _));
        Assert.False(json.RootElement[0].TryGetProperty("servingRules", out _));
    }

    [Fact]
    public async Task Environment_without_configuration_serves_empty_lists()
    {
        await using var open = PrimaryHost.StartOffline(new Dictionary<string, string> { ["BYPASS_AUTH"] = "true" });

        Assert.Equal("[]\n", await open.Client.GetStringAsync("/client/env/unknown-env/feature-configs"));
        Assert.Equal("[]\n", await open.Client.GetStringAsync("/client/env/unknown-env/target-segments"));
        Assert.Equal("[]\n", await open.Client.GetStringAsync("/client/env/unknown-env/target/t1/evaluations"));
    }
}

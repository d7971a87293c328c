using System.Diagnostics;
using System.Net;
using System.Text.Json;
using FfProxy.Tests.Fakes;
using FfProxy.Tests.Fixtures;

namespace FfProxy.Tests.Primary;

/// <summary>Every account-stream event of spec §3.4: store first, then the Primary's SDK streams and proxy:sse_events.</summary>
public sealed class EventTests(RedisServer redis) : IClassFixture<RedisServer>
{
    private const string Env = OnlineProxy.Env;
    private static readonly TimeSpan Within = TimeSpan.FromSeconds(5);

    [Fact]
    public async Task A_flag_patch_reaches_an_sdk_stream_in_under_a_second_with_the_new_data_stored()
    {
        await using var proxy = await OnlineProxy.StartAsync(redis);
        await using var stream = await ConnectAsync(proxy);

        var watch = Stopwatch.StartNew();
        var version = proxy.Saas.SetFlag(Env, FakeSaas.Flag("dark_mode", serve: "false", environment: Env));
        var received = await stream.NextEventAsync(Within);
        watch.Stop();

        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(1), $"patch took {watch.Elapsed.TotalMilliseconds} ms");
        Assert.Equal("patch", received.GetProperty("event").GetString());
        Assert.Equal("flag", received.GetProperty("domain").GetString());
        Assert.Equal("dark_mode", received.GetProperty("identifier").GetString());
        Assert.Equal(version, received.GetProperty("version").GetInt64());
        Assert.Equal("false", await proxy.EvaluateAsync("dark_mode"));
        var stored = JsonDocument.Parse((await proxy.RedisGetAsync($"env-{Env}-feature-config-dark_mode"))!).RootElement;
        Assert.Equal(version, stored.GetProperty("version").GetInt64());
        var forwarded = (await proxy.StreamEntriesAsync("proxy:sse_events")).Select(e => JsonDocument.Parse(e).RootElement).ToList();
        Assert.Contains(forwarded, e => e.GetProperty("event").GetString() == "patch" && e.GetProperty("identifier").GetString() == "dark_mode"
            && e.GetProperty("environment").GetString() == Env && e.GetProperty("version").GetInt64() == version);
    }

    [Fact]
    public async Task Flag_create_and_delete_and_segment_create_patch_delete_are_applied_and_forwarded()
    {
        await using var proxy = await OnlineProxy.StartAsync(redis);
        await using var stream = await ConnectAsync(proxy);

        proxy.Saas.SetFlag(Env, FakeSaas.Flag("new_flag", environment: Env));
        await ExpectAsync(stream, "create", "flag", "new_flag");
        Assert.NotNull(await proxy.RedisGetAsync($"env-{Env}-feature-config-new_flag"));

        proxy.Saas.DeleteFlag(Env, "new_flag");
        await ExpectAsync(stream, "delete", "flag", "new_flag");
        Assert.Null(await proxy.RedisGetAsync($"env-{Env}-feature-config-new_flag"));
        Assert.DoesNotContain("new_flag", (await proxy.RedisGetAsync($"env-{Env}-feature-configs"))!, StringComparison.Ordinal);

        proxy.Saas.SetSegment(Env, FakeSaas.Segment("gamma", ["u9"], environment: Env));
        await ExpectAsync(stream, "create", "target-segment", "gamma");
        proxy.Saas.SetSegment(Env, FakeSaas.Segment("gamma", ["u9", "u10"], environment: Env));
        await ExpectAsync(stream, "patch", "target-segment", "gamma");
        Assert.Contains("u10", (await proxy.RedisGetAsync($"env-{Env}-segment-gamma"))!, StringComparison.Ordinal);

        proxy.Saas.DeleteSegment(Env, "gamma");
        await ExpectAsync(stream, "delete", "target-segment", "gamma");
        Assert.Null(await proxy.RedisGetAsync($"env-{Env}-segment-gamma"));

        var inventory = JsonDocument.Parse((await proxy.RedisGetAsync($"key-{proxy.ProxyKey}-inventory"))!).RootElement;
        Assert.False(inventory.TryGetProperty($"env-{Env}-segment-gamma", out _));
        Assert.False(inventory.TryGetProperty($"env-{Env}-feature-config-new_flag", out _));
    }

    [Fact]
    public async Task A_per_item_fetch_that_fails_is_retried_until_it_succeeds()
    {
        await using var proxy = await OnlineProxy.StartAsync(redis);
        await using var stream = await ConnectAsync(proxy);

        proxy.Saas.ItemFailuresRemaining = 2; // SaaS read replica lag: 404 twice
        var version = proxy.Saas.SetFlag(Env, FakeSaas.Flag("dark_mode", serve: "false", environment: Env));

        var received = await stream.NextEventAsync(Within);
        Assert.Equal(version, received.GetProperty("version").GetInt64());
        Assert.Equal("false", await proxy.EvaluateAsync("dark_mode"));
        var itemReads = proxy.Saas.Requests.Count(r => r.Path.EndsWith("/feature-configs/dark_mode", StringComparison.Ordinal));
        Assert.Equal(3, itemReads);
    }

    [Fact]
    public async Task An_expired_proxy_token_is_renewed_on_401()
    {
        await using var proxy = await OnlineProxy.StartAsync(redis);
        await using var stream = await ConnectAsync(proxy);
        var authsBefore = proxy.Saas.Requests.Count(r => r.Path.EndsWith("/proxy/auth", StringComparison.Ordinal));

        proxy.Saas.InvalidateTokens(proxy.ProxyKey);
        proxy.Saas.SetFlag(Env, FakeSaas.Flag("dark_mode", serve: "false", environment: Env));

        await ExpectAsync(stream, "patch", "flag", "dark_mode");
        Assert.True(proxy.Saas.Requests.Count(r => r.Path.EndsWith("/proxy/auth", StringComparison.Ordinal)) > authsBefore);
    }

    [Fact]
    public async Task An_added_sdk_key_authenticates_and_a_removed_one_loses_its_tokens_and_streams_at_once()
    {
        await using var proxy = await OnlineProxy.StartAsync(redis);
        proxy.Saas.AddSdkKey(Env, "brand-new-key");
        await Eventually.TrueAsync(async () => await proxy.RedisGetAsync($"auth-key-{FakeSaas.Hash("brand-new-key")}") == $"\"{Env}\"", Within);
        using var client = await proxy.Primary.AuthenticatedClientAsync("brand-new-key");
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync($"/client/env/{Env}/feature-configs")).StatusCode);
        await using var stream = await ConnectAsync(proxy, "brand-new-key");

        proxy.Saas.RemoveSdkKey(Env, "brand-new-key");

        await stream.Completion.WaitAsync(Within);
        Assert.Equal(HttpStatusCode.Unauthorized, (await client.GetAsync($"/client/env/{Env}/feature-configs")).StatusCode);
        Assert.Null(await proxy.RedisGetAsync($"auth-key-{FakeSaas.Hash("brand-new-key")}"));
        Assert.DoesNotContain(FakeSaas.Hash("brand-new-key"), (await proxy.RedisGetAsync($"env-{Env}-api-configs"))!, StringComparison.Ordinal);
        var forwarded = await proxy.StreamEntriesAsync("proxy:sse_events");
        Assert.Contains(forwarded, e => e.Contains("\"apiKeyRemoved\"", StringComparison.Ordinal) && e.Contains(FakeSaas.Hash("brand-new-key"), StringComparison.Ordinal));
        Assert.DoesNotContain(forwarded, e => e.Contains("apiKeyAdded", StringComparison.Ordinal));
    }

    [Fact]
    public async Task An_added_environment_is_fetched_with_a_new_token_and_a_removed_one_is_deleted()
    {
        const string added = "22222222-2222-4222-8222-222222222222";
        await using var proxy = await OnlineProxy.StartAsync(redis);
        proxy.Saas.AddEnvironment(added, ["second-env-key"], silent: true);
        proxy.Saas.SetFlag(added, FakeSaas.Flag("second_flag", environment: added), silent: true);

        proxy.Saas.SetProxyKeyEnvironments(proxy.ProxyKey, Env, added); // environmentsAdded

        await Eventually.TrueAsync(async () => await proxy.RedisGetAsync($"env-{added}-feature-config-second_flag") is not null, Within);
        var single = proxy.Saas.Requests.Last(r => r.Path.EndsWith("/proxy/config", StringComparison.Ordinal));
        Assert.Equal(added, single.QueryValue("environment"));
        using var client = await proxy.Primary.AuthenticatedClientAsync("second-env-key");
        await using var stream = await ConnectAsync(proxy, "second-env-key");

        proxy.Saas.RemoveEnvironment(added); // environmentsRemoved

        await stream.Completion.WaitAsync(Within);
        Assert.Equal(HttpStatusCode.Unauthorized, (await client.GetAsync($"/client/env/{added}/feature-configs")).StatusCode);
        Assert.Empty(await proxy.RedisKeysAsync($"env-{added}-*"));
        Assert.Null(await proxy.RedisGetAsync($"auth-key-{FakeSaas.Hash("second-env-key")}"));
        Assert.DoesNotContain(added, (await proxy.RedisGetAsync($"key-{proxy.ProxyKey}-inventory"))!, StringComparison.Ordinal);
        Assert.Contains(await proxy.StreamEntriesAsync("proxy:sse_events"), e => e.Contains("environmentsRemoved", StringComparison.Ordinal) && e.Contains(added, StringComparison.Ordinal));
        Assert.Equal("true", await proxy.EvaluateAsync("dark_mode")); // the other environment is untouched
    }

    [Fact]
    public async Task A_deleted_proxy_key_removes_every_asset_closes_streams_and_makes_the_proxy_unhealthy()
    {
        await using var proxy = await OnlineProxy.StartAsync(redis);
        await using var stream = await ConnectAsync(proxy);

        proxy.Saas.DeleteProxyKey(proxy.ProxyKey);

        await stream.Completion.WaitAsync(Within);
        await Eventually.TrueAsync(async () => (await proxy.Primary.Client.GetAsync("/health")).StatusCode == HttpStatusCode.InternalServerError, Within);
        Assert.Empty(await proxy.RedisKeysAsync("env-*"));
        Assert.Empty(await proxy.RedisKeysAsync("auth-key-*"));
        Assert.Null(await proxy.RedisGetAsync($"key-{proxy.ProxyKey}-inventory"));
        using var response = await proxy.Primary.Client.PostAsync("/client/auth", new StringContent($$"""{"apiKey":"{{OnlineProxy.ServerKey}}"}""", System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    internal static async Task<SseClient> ConnectAsync(OnlineProxy proxy, string sdkKey = OnlineProxy.ServerKey)
    {
        var token = await proxy.Primary.AuthenticateAsync(sdkKey);
        return await SseClient.ConnectAsync(proxy.Primary.BaseAddress, token, sdkKey);
    }

    private static async Task ExpectAsync(SseClient stream, string @event, string domain, string identifier)
    {
        var received = await stream.NextEventAsync(Within);
        Assert.Equal((@event, domain, identifier), (received.GetProperty("event").GetString(), received.GetProperty("domain").GetString(), received.GetProperty("identifier").GetString()));
    }
}

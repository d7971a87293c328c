using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using FfProxy.Tests.Fakes;
using FfProxy.Tests.Fixtures;

namespace FfProxy.Tests.Replica;

/// <summary>Read Replicas following an online Primary through a real Redis (spec §3.6, §3.9, §4.3).</summary>
public sealed class ReplicaTests(RedisServer redis) : IClassFixture<RedisServer>
{
    private const string Env = OnlineProxy.Env;
    private static readonly TimeSpan Within = TimeSpan.FromSeconds(10);

    internal static readonly Dictionary<string, string> FastPrimary = new()
    {
        ["FfProxy:Saas:StateBroadcast"] = "00:00:00.500",
        ["FfProxy:Saas:StateVerification"] = "00:00:00.500",
        ["METRIC_POST_DURATION"] = "1",
    };

    internal static PrimaryHost StartReplica(string redisAddress, IDictionary<string, string>? extra = null)
    {
        var settings = new Dictionary<string, string>
        {
            ["REDIS_ADDRESS"] = redisAddress,
            ["AUTH_SECRET"] = PrimaryHost.AuthSecret,
            ["HEARTBEAT_INTERVAL"] = "0",
            ["FfProxy:Replication:StatePoll"] = "00:00:00.200",
            ["FfProxy:Replication:ResubscribeBackoff"] = "00:00:00.300",
        };
        foreach (var (key, value) in extra ?? new Dictionary<string, string>())
        {
            settings[key] = value;
        }

        return PrimaryHost.StartReplica(settings);
    }

    [Fact]
    public async Task A_replica_serves_from_redis_and_relays_changes_and_primary_state_to_its_sdk_streams()
    {
        await using var proxy = await OnlineProxy.StartAsync(redis, FastPrimary);
        await using var replica = StartReplica(redis.Address);
        await WaitForReplicaStateAsync(replica, "CONNECTED");

        // A token from the Primary works on the Replica (shared AUTH_SECRET).
        var token = await proxy.Primary.AuthenticateAsync(OnlineProxy.ServerKey);
        using var client = new HttpClient { BaseAddress = replica.BaseAddress };
        client.DefaultRequestHeaders.Authorization = new("Bearer", token);
        Assert.Equal("true", (await client.GetFromJsonAsync<JsonElement>($"/client/env/{Env}/target/t1/evaluations/dark_mode")).GetProperty("value").GetString());
        var health = await replica.Client.GetFromJsonAsync<JsonElement>("/health");
        Assert.Equal("READ_REPLICA", health.GetProperty("configStatus").GetProperty("state").GetString());

        await using var stream = await SseClient.ConnectAsync(replica.BaseAddress, token, OnlineProxy.ServerKey);
        var version = proxy.Saas.SetFlag(Env, FakeSaas.Flag("dark_mode", serve: "false", environment: Env));
        var received = await stream.NextEventAsync(Within);
        Assert.Equal(("patch", version), (received.GetProperty("event").GetString(), received.GetProperty("version").GetInt64()));
        Assert.Equal("false", (await client.GetFromJsonAsync<JsonElement>($"/client/env/{Env}/target/t1/evaluations/dark_mode")).GetProperty("value").GetString());

        // The Primary loses SaaS: the Replica closes its SDK streams and refuses new ones until it is back.
        proxy.Saas.RefuseStreams = true;
        proxy.Saas.DropStreams();
        await stream.Completion.WaitAsync(Within);
        await WaitForReplicaStateAsync(replica, "DISCONNECTED");
        var refused = await Assert.ThrowsAsync<HttpRequestException>(() => SseClient.ConnectAsync(replica.BaseAddress, token, OnlineProxy.ServerKey));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
        proxy.Saas.RefuseStreams = false;
        await WaitForReplicaStateAsync(replica, "CONNECTED");

        // Removing the SDK key ends the Replica's streams and tokens at once.
        await using var again = await SseClient.ConnectAsync(replica.BaseAddress, token, OnlineProxy.ServerKey);
        proxy.Saas.RemoveSdkKey(Env, OnlineProxy.ServerKey);
        await again.Completion.WaitAsync(Within);
        await Eventually.TrueAsync(async () => (await client.GetAsync($"/client/env/{Env}/feature-configs")).StatusCode == HttpStatusCode.Unauthorized, Within);
    }

    [Fact]
    public async Task A_replica_is_initializing_until_the_primary_wrote_its_state()
    {
        await redis.FlushAsync();
        await using var replica = StartReplica(redis.Address);
        var health = await replica.Client.GetFromJsonAsync<JsonElement>("/health");
        Assert.Equal("INITIALIZING", health.GetProperty("streamStatus").GetProperty("state").GetString());

        await using var proxy = await OnlineProxy.StartAsync(redis, FastPrimary);
        await WaitForReplicaStateAsync(replica, "CONNECTED");
    }

    [Fact]
    public async Task Metrics_posted_to_a_replica_reach_saas_through_the_primary()
    {
        await using var proxy = await OnlineProxy.StartAsync(redis, FastPrimary);
        await using var replica = StartReplica(redis.Address);
        await WaitForReplicaStateAsync(replica, "CONNECTED");
        var token = await replica.AuthenticateAsync(OnlineProxy.ServerKey);
        using var client = new HttpClient { BaseAddress = replica.BaseAddress };
        client.DefaultRequestHeaders.Authorization = new("Bearer", token);

        using var response = await client.PostAsync($"/metrics/{Env}", new StringContent(
            """{"metricsData":[{"timestamp":1,"count":5,"metricsType":"FFMETRICS","attributes":[{"key":"featureIdentifier","value":"dark_mode"},{"key":"variationIdentifier","value":"true"}]}]}""",
            Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        await Eventually.TrueAsync(() => Task.FromResult(proxy.Saas.MetricsPosts.Any(p => p.Json!["metricsData"]?[0]?["count"]?.GetValue<int>() == 5)), Within);
    }

    [Fact]
    public async Task With_forward_targets_a_replica_sends_the_targets_it_authenticates_to_saas_itself()
    {
        // The Primary does not forward (its SDKs are elsewhere); the Replica, where SDKs log in, does.
        await using var proxy = await OnlineProxy.StartAsync(redis, FastPrimary);
        await using var replica = StartReplica(redis.Address, new Dictionary<string, string>
        {
            ["FORWARD_TARGETS"] = "true",
            ["CLIENT_SERVICE"] = proxy.Saas.ClientService.ToString(),
        });
        await WaitForReplicaStateAsync(replica, "CONNECTED");

        await replica.AuthenticateAsync(OnlineProxy.ServerKey, new { identifier = "replica-user", name = "Replica User", attributes = new { plan = "pro" } });

        await Eventually.TrueAsync(() => Task.FromResult(proxy.Saas.TargetAuths.Count == 1), Within, "the Replica forwarded the target");
        var forwarded = proxy.Saas.TargetAuths[0].Json!;
        Assert.Equal(OnlineProxy.ServerKey, forwarded["apiKey"]!.GetValue<string>());
        Assert.Equal("replica-user", forwarded["target"]!["identifier"]!.GetValue<string>());
        Assert.Equal("pro", forwarded["target"]!["attributes"]!["plan"]!.GetValue<string>());
        var scrape = await replica.Client.GetStringAsync("/metrics");
        Assert.Contains("ff_proxy_to_client_service_requests{", scrape, StringComparison.Ordinal);
        Assert.Matches("""ff_proxy_to_client_service_requests\{[^}]*code="200"[^}]*url="/client/auth"[^}]*\} 1""", scrape);
    }

    [Fact]
    public async Task A_replica_survives_a_redis_restart_and_catches_up()
    {
        await using var proxy = await OnlineProxy.StartAsync(redis, FastPrimary);
        await using var replica = StartReplica(redis.Address);
        await WaitForReplicaStateAsync(replica, "CONNECTED");
        using var client = await replica.AuthenticatedClientAsync(OnlineProxy.ServerKey);

        // The Replica reports CONNECTED before its preload has finished: hold the snapshot before Redis goes away
        // (CI once stopped Redis inside that window and got a 503 for an environment the Replica had not loaded yet).
        Assert.Equal("true", (await client.GetFromJsonAsync<JsonElement>($"/client/env/{Env}/target/t1/evaluations/dark_mode")).GetProperty("value").GetString());
        await redis.StopAsync();
        try
        {
            await ServeThroughRestartAsync(proxy, replica, client);
        }
        finally
        {
            if (!await RedisAnswersAsync())
            {
                await redis.StartAsync();
            }
        }
    }

    private async Task<bool> RedisAnswersAsync()
    {
        try
        {
            await using var connection = await redis.ConnectAsync();
            return true;
        }
        catch (StackExchange.Redis.RedisConnectionException)
        {
            return false;
        }
    }

    private async Task ServeThroughRestartAsync(OnlineProxy proxy, PrimaryHost replica, HttpClient client)
    {
        // Still serving from its snapshot while Redis is away, and saying so.
        Assert.Equal("true", (await client.GetFromJsonAsync<JsonElement>($"/client/env/{Env}/target/t1/evaluations/dark_mode")).GetProperty("value").GetString());
        await Eventually.TrueAsync(async () => (await replica.Client.GetFromJsonAsync<JsonElement>("/health")).GetProperty("cacheStatus").GetString() == "unhealthy", Within);

        await redis.StartAsync(); // empty: no persistence
        await Eventually.TrueAsync(async () => (await replica.Client.GetFromJsonAsync<JsonElement>("/health")).GetProperty("cacheStatus").GetString() == "healthy", TimeSpan.FromSeconds(20));
        await Eventually.TrueAsync(async () => await proxy.RedisGetAsync($"env-{Env}-feature-config-dark_mode") is not null, TimeSpan.FromSeconds(20), "the Primary wrote the lost data again");
        proxy.Saas.SetFlag(Env, FakeSaas.Flag("dark_mode", serve: "false", environment: Env));
        await Eventually.TrueAsync(async () => (await client.GetFromJsonAsync<JsonElement>($"/client/env/{Env}/target/t1/evaluations/dark_mode")).GetProperty("value").GetString() == "false",
            TimeSpan.FromSeconds(20), "the change after the restart reached the Replica");
    }

    internal static Task WaitForReplicaStateAsync(PrimaryHost replica, string state) =>
        Eventually.TrueAsync(async () => (await replica.Client.GetFromJsonAsync<JsonElement>("/health")).GetProperty("streamStatus").GetProperty("state").GetString() == state,
            Within, $"the Replica reports {state}");
}

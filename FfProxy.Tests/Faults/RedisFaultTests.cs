using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using FfProxy.Tests.Fakes;
using FfProxy.Tests.Fixtures;
using FfProxy.Tests.Replica;

namespace FfProxy.Tests.Faults;

/// <summary>
/// Issue 11: redis-server killed and restarted empty under an online Primary and two Replicas, with the production
/// intervals of the Primary's state verification (60 s), so only the restored connection can make it notice.
/// </summary>
public sealed class RedisFaultTests(RedisServer redis) : IClassFixture<RedisServer>
{
    private const string Env = OnlineProxy.Env;
    private static readonly TimeSpan Within = TimeSpan.FromSeconds(15);

    [Fact]
    public async Task An_emptied_redis_is_repopulated_within_5_s_known_keys_never_get_401_and_a_change_made_meanwhile_reaches_every_stream()
    {
        await using var proxy = await OnlineProxy.StartAsync(redis);
        await using var replica0 = ReplicaTests.StartReplica(redis.Address);
        await using var replica1 = ReplicaTests.StartReplica(redis.Address);
        await ReplicaTests.WaitForReplicaStateAsync(replica0, "CONNECTED");
        await ReplicaTests.WaitForReplicaStateAsync(replica1, "CONNECTED");
        var token = await proxy.Primary.AuthenticateAsync(OnlineProxy.ServerKey);
        await using var stream0 = await SseClient.ConnectAsync(replica0.BaseAddress, token, OnlineProxy.ServerKey);
        await using var stream1 = await SseClient.ConnectAsync(replica1.BaseAddress, token, OnlineProxy.ServerKey);
        await using var primaryStream = await SseClient.ConnectAsync(proxy.Primary.BaseAddress, token, OnlineProxy.ServerKey);

        await redis.StopAsync();
        await ExpectKnownKeysAuthenticateAsync(replica0, replica1);
        await redis.StartAsync(); // empty: no persistence
        var answering = Stopwatch.StartNew();

        // A change at SaaS right after the restart, before anyone noticed the store is empty.
        var version = proxy.Saas.SetFlag(Env, FakeSaas.Flag("dark_mode", serve: "false", version: 2, environment: Env));
        await ExpectKnownKeysAuthenticateAsync(replica0, replica1);

        await Eventually.TrueAsync(async () => await proxy.RedisGetAsync("auth-key-" + FakeSaas.Hash(OnlineProxy.ServerKey)) is not null
            && await proxy.RedisGetAsync($"key-{proxy.ProxyKey}-inventory") is not null, TimeSpan.FromSeconds(5), "the Primary wrote its configuration again within 5 s");
        Assert.True(answering.Elapsed < TimeSpan.FromSeconds(5), $"repopulated after {answering.Elapsed}");

        foreach (var stream in new[] { stream0, stream1, primaryStream })
        {
            var received = await stream.NextEventAsync(Within);
            Assert.Equal(("dark_mode", version), (received.GetProperty("identifier").GetString(), received.GetProperty("version").GetInt64()));
        }

        // The Replicas agree with each other and with the Primary.
        foreach (var host in new[] { replica0, replica1, proxy.Primary })
        {
            using var client = new HttpClient { BaseAddress = host.BaseAddress };
            client.DefaultRequestHeaders.Authorization = new("Bearer", token);
            await Eventually.TrueAsync(async () => (await client.GetFromJsonAsync<JsonElement>($"/client/env/{Env}/target/t1/evaluations/dark_mode")).GetProperty("value").GetString() == "false",
                Within, $"{host.BaseAddress} serves the change");
        }

        await ExpectKnownKeysAuthenticateAsync(replica0, replica1);
    }

    private static async Task ExpectKnownKeysAuthenticateAsync(params PrimaryHost[] replicas)
    {
        foreach (var replica in replicas)
        {
            using var response = await replica.Client.PostAsJsonAsync("/client/auth", new { apiKey = OnlineProxy.ClientKey });
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
    }
}

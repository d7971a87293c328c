using System.Net.Http.Json;
using System.Text.Json;
using FfProxy.Tests.Fakes;
using FfProxy.Tests.Fixtures;

namespace FfProxy.Tests.Replica;

/// <summary>The Primary, a Replica and the streams on a three-node Redis Cluster (comma-separated REDIS_ADDRESS).</summary>
public sealed class ClusterTopologyTests(RedisCluster cluster) : IClassFixture<RedisCluster>
{
    private const string Env = OnlineProxy.Env;

    [Fact]
    public async Task Primary_and_replica_work_on_a_redis_cluster()
    {
        await using var saas = await FakeSaas.StartAsync();
        saas.AddEnvironment(Env, [OnlineProxy.ServerKey], silent: true);
        saas.SetFlag(Env, FakeSaas.Flag("dark_mode", environment: Env), silent: true);
        var key = saas.CreateProxyKey(Env);
        var settings = new Dictionary<string, string>(ReplicaTests.FastPrimary)
        {
            ["PROXY_KEY"] = key,
            ["CLIENT_SERVICE"] = saas.ClientService.ToString(),
            ["METRIC_SERVICE"] = saas.MetricService.ToString(),
            ["REDIS_ADDRESS"] = cluster.Address,
            ["AUTH_SECRET"] = PrimaryHost.AuthSecret,
            ["HEARTBEAT_INTERVAL"] = "0",
        };
        await using var primary = PrimaryHost.Start(settings);
        await using var replica = ReplicaTests.StartReplica(cluster.Address);
        await ReplicaTests.WaitForReplicaStateAsync(replica, "CONNECTED");

        var token = await replica.AuthenticateAsync(OnlineProxy.ServerKey);
        await using var stream = await SseClient.ConnectAsync(replica.BaseAddress, token, OnlineProxy.ServerKey);
        saas.SetFlag(Env, FakeSaas.Flag("dark_mode", serve: "false", environment: Env));

        Assert.Equal("dark_mode", (await stream.NextEventAsync(TimeSpan.FromSeconds(10))).GetProperty("identifier").GetString());
        using var client = new HttpClient { BaseAddress = replica.BaseAddress };
        client.DefaultRequestHeaders.Authorization = new("Bearer", token);
        Assert.Equal("false", (await client.GetFromJsonAsync<JsonElement>($"/client/env/{Env}/target/t1/evaluations/dark_mode")).GetProperty("value").GetString());
        var health = await primary.Client.GetFromJsonAsync<JsonElement>("/health");
        Assert.Equal("healthy", health.GetProperty("cacheStatus").GetString());

        using var metrics = await client.PostAsync($"/metrics/{Env}", new StringContent(
            """{"metricsData":[{"timestamp":1,"count":2,"metricsType":"FFMETRICS","attributes":[{"key":"featureIdentifier","value":"dark_mode"}]}]}""",
            System.Text.Encoding.UTF8, "application/json"));
        await Eventually.TrueAsync(() => Task.FromResult(saas.MetricsPosts.Count > 0), TimeSpan.FromSeconds(10), "metrics crossed the cluster stream");
    }
}

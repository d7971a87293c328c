using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using FfProxy.Tests.Fakes;
using FfProxy.Tests.Fixtures;
using FfProxy.Tests.Replica;

namespace FfProxy.Tests.Gateway;

/// <summary>The YARP Gateway in front of two Replicas: per-request balancing, SSE pass-through, failover.</summary>
public sealed class GatewayTests(RedisServer redis) : IClassFixture<RedisServer>
{
    private const string Env = OnlineProxy.Env;
    private static readonly TimeSpan Within = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task Requests_spread_over_replicas_streams_pass_through_and_a_dead_replica_is_taken_out()
    {
        await using var proxy = await OnlineProxy.StartAsync(redis, ReplicaTests.FastPrimary);
        var first = ReplicaTests.StartReplica(redis.Address);
        await using var second = ReplicaTests.StartReplica(redis.Address);
        await ReplicaTests.WaitForReplicaStateAsync(first, "CONNECTED");
        await ReplicaTests.WaitForReplicaStateAsync(second, "CONNECTED");
        await using var gateway = PrimaryHost.StartGateway(new Dictionary<string, string>
        {
            ["UPSTREAMS"] = $"{first.BaseAddress.ToString().TrimEnd('/')},{second.BaseAddress.ToString().TrimEnd('/')}",
            ["FfProxy:Gateway:HealthCheckInterval"] = "00:00:00.500",
        });

        // A token from one Replica works on the next (shared AUTH_SECRET), and requests alternate.
        using var client = await gateway.AuthenticatedClientAsync(OnlineProxy.ServerKey);
        for (var i = 0; i < 6; i++)
        {
            using var response = await client.GetAsync($"/client/env/{Env}/feature-configs");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        foreach (var replica in (PrimaryHost[])[first, second])
        {
            var scrape = await replica.Client.GetStringAsync("/metrics");
            Assert.True(PrometheusText.HasSample(scrape, "ff_proxy_http_requests_total", ("url", "/client/env/:environment_uuid/feature-configs"), ("code", "200")),
                "each Replica served some of the requests");
        }

        // SSE through the Gateway, unbuffered.
        var token = await gateway.AuthenticateAsync(OnlineProxy.ServerKey);
        await using (var stream = await SseClient.ConnectAsync(gateway.BaseAddress, token, OnlineProxy.ServerKey))
        {
            Assert.Equal("text/event-stream", stream.ContentHeaders.ContentType?.MediaType);
            proxy.Saas.SetFlag(Env, FakeSaas.Flag("dark_mode", serve: "false", environment: Env));
            Assert.Equal("dark_mode", (await stream.NextEventAsync(Within)).GetProperty("identifier").GetString());
        }

        // A Replica dies: after its health checks fail, every request lands on the other one.
        await first.DisposeAsync();
        await gateway.WaitForHealthyUpstreamsAsync(1, Within);
        for (var i = 0; i < 6; i++)
        {
            using var response = await client.GetAsync($"/client/env/{Env}/feature-configs");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        await using var reconnected = await SseClient.ConnectAsync(gateway.BaseAddress, token, OnlineProxy.ServerKey);
        proxy.Saas.SetFlag(Env, FakeSaas.Flag("dark_mode", serve: "true", environment: Env));
        Assert.Equal("dark_mode", (await reconnected.NextEventAsync(Within)).GetProperty("identifier").GetString());
    }
}

using System.Net;
using System.Net.Http.Headers;
using FfProxy.Core.Sdk;
using FfProxy.Tests.Fakes;
using FfProxy.Tests.Fixtures;
using FfProxy.Tests.Replica;
using Microsoft.Extensions.DependencyInjection;

namespace FfProxy.Tests.Gateway;

/// <summary>
/// The Gateway holds SDK streams itself and feeds all streams of one upstream and SDK key from one upstream stream;
/// the upstream still checks every SDK's request, and the stream check it answers for that is empty.
/// </summary>
public sealed class StreamRelayTests(RedisServer redis) : IClassFixture<RedisServer>
{
    private const string Env = OnlineProxy.Env;
    private static readonly TimeSpan Within = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task Streams_of_one_key_share_one_upstream_stream_each_gets_every_event_and_the_last_to_leave_closes_it()
    {
        await using var proxy = await OnlineProxy.StartAsync(redis, ReplicaTests.FastPrimary);
        await using var replica = ReplicaTests.StartReplica(redis.Address);
        await ReplicaTests.WaitForReplicaStateAsync(replica, "CONNECTED");
        await using var gateway = PrimaryHost.StartGateway(new Dictionary<string, string> { ["UPSTREAMS"] = replica.BaseAddress.ToString().TrimEnd('/') });
        var upstreamStreams = replica.Services.GetRequiredService<SdkStreamHub>();
        var heldStreams = gateway.Services.GetRequiredService<SdkStreamHub>();

        var streams = new List<SseClient>();
        try
        {
            for (var i = 0; i < 8; i++)
            {
                // Different targets, one SDK key: one feed.
                var token = await gateway.AuthenticateAsync(OnlineProxy.ServerKey, new { identifier = $"relay-{i}", name = $"Relay {i}" });
                var stream = await SseClient.ConnectAsync(gateway.BaseAddress, token, OnlineProxy.ServerKey);
                streams.Add(stream);
                Assert.Equal("text/event-stream", stream.ContentHeaders.ContentType?.MediaType);
                Assert.Equal("no-cache", stream.Headers.CacheControl?.ToString());
                Assert.False(stream.Headers.Contains(SdkStreamCheck.Header));
            }

            Assert.Equal(8, heldStreams.ConnectionCount);
            Assert.Equal(1, upstreamStreams.ConnectionCount);

            proxy.Saas.SetFlag(Env, FakeSaas.Flag("dark_mode", serve: "false", environment: Env));
            foreach (var stream in streams)
            {
                Assert.Equal("dark_mode", (await stream.NextEventAsync(Within)).GetProperty("identifier").GetString());
            }
        }
        finally
        {
            foreach (var stream in streams)
            {
                await stream.DisposeAsync();
            }
        }

        await Eventually.TrueAsync(() => Task.FromResult(upstreamStreams.ConnectionCount == 0 && heldStreams.ConnectionCount == 0), Within,
            "the upstream stream closed once its last SDK left");

        // A new SDK starts a new feed.
        await using var again = await SseClient.ConnectAsync(gateway.BaseAddress, await gateway.AuthenticateAsync(OnlineProxy.ServerKey), OnlineProxy.ServerKey);
        Assert.Equal(1, upstreamStreams.ConnectionCount);
        proxy.Saas.SetFlag(Env, FakeSaas.Flag("dark_mode", serve: "true", environment: Env));
        Assert.Equal("dark_mode", (await again.NextEventAsync(Within)).GetProperty("identifier").GetString());
    }

    [Fact]
    public async Task With_a_feed_open_a_request_the_upstream_refuses_gets_the_upstreams_answer_and_no_stream()
    {
        await using var proxy = await OnlineProxy.StartAsync(redis, ReplicaTests.FastPrimary);
        await using var replica = ReplicaTests.StartReplica(redis.Address);
        await ReplicaTests.WaitForReplicaStateAsync(replica, "CONNECTED");
        await using var gateway = PrimaryHost.StartGateway(new Dictionary<string, string> { ["UPSTREAMS"] = replica.BaseAddress.ToString().TrimEnd('/') });
        var token = await gateway.AuthenticateAsync(OnlineProxy.ServerKey);
        await using var open = await SseClient.ConnectAsync(gateway.BaseAddress, token, OnlineProxy.ServerKey);

        foreach (var (bearer, key) in new[] { ("not-a-token", OnlineProxy.ServerKey), (token, "no-such-key"), (token, "") })
        {
            var direct = await StreamRequestAsync(replica.BaseAddress, bearer, key);
            var relayed = await StreamRequestAsync(gateway.BaseAddress, bearer, key);
            Assert.NotEqual(HttpStatusCode.OK, direct.Status);
            Assert.Equal(direct, relayed);
        }

        Assert.Equal(1, gateway.Services.GetRequiredService<SdkStreamHub>().ConnectionCount);
    }

    [Fact]
    public async Task A_stream_check_is_answered_with_the_streams_headers_and_an_empty_body_and_holds_nothing()
    {
        await using var proxy = await OnlineProxy.StartAsync(redis, ReplicaTests.FastPrimary);
        await using var replica = ReplicaTests.StartReplica(redis.Address);
        await ReplicaTests.WaitForReplicaStateAsync(replica, "CONNECTED");
        var token = await replica.AuthenticateAsync(OnlineProxy.ServerKey);

        using var request = new HttpRequestMessage(HttpMethod.Get, "/stream?cluster=1");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        request.Headers.Add("API-Key", OnlineProxy.ServerKey);
        request.Headers.Add(SdkStreamCheck.Header, SdkStreamCheck.Asked);
        using var response = await replica.Client.SendAsync(request).WaitAsync(Within);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(SdkStreamCheck.Answer, Assert.Single(response.Headers.GetValues(SdkStreamCheck.Header)));
        Assert.Empty(await response.Content.ReadAsByteArrayAsync());
        Assert.Equal(0, replica.Services.GetRequiredService<SdkStreamHub>().ConnectionCount);

        // A refused check is refused as the stream would be.
        using var refused = new HttpRequestMessage(HttpMethod.Get, "/stream?cluster=1");
        refused.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        refused.Headers.Add("API-Key", "no-such-key");
        refused.Headers.Add(SdkStreamCheck.Header, SdkStreamCheck.Asked);
        using var refusal = await replica.Client.SendAsync(refused).WaitAsync(Within);
        Assert.Equal(HttpStatusCode.NotFound, refusal.StatusCode);
        Assert.False(refusal.Headers.Contains(SdkStreamCheck.Header));
    }

    private static async Task<(HttpStatusCode Status, string Body)> StreamRequestAsync(Uri baseAddress, string bearer, string key)
    {
        using var http = new HttpClient { BaseAddress = baseAddress, Timeout = Within };
        using var request = new HttpRequestMessage(HttpMethod.Get, "/stream?cluster=1");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        if (key.Length > 0)
        {
            request.Headers.Add("API-Key", key);
        }

        using var response = await http.SendAsync(request);
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }
}

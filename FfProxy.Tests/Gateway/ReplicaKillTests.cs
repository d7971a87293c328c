using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using FfProxy.Gateway;
using FfProxy.Tests.Fakes;
using FfProxy.Tests.Fixtures;
using FfProxy.Tests.Replica;

namespace FfProxy.Tests.Gateway;

/// <summary>
/// Issue 11: a Replica SIGKILLed under load is hidden by the Gateway: GETs whose connection fails are sent to the
/// other Replica (no 5xx), the SDK streams it fed end cleanly and reconnect through the Gateway.
/// </summary>
public sealed class ReplicaKillTests(RedisServer redis) : IClassFixture<RedisServer>
{
    private const string Env = OnlineProxy.Env;
    private static readonly TimeSpan Within = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task A_replica_killed_under_load_costs_no_5xx_for_gets_and_its_streams_reconnect()
    {
        await using var proxy = await OnlineProxy.StartAsync(redis, ReplicaTests.FastPrimary);
        await using var doomed = await ReplicaProcess.StartAsync(redis.Address);
        await using var survivor = await ReplicaProcess.StartAsync(redis.Address);
        await using var gateway = PrimaryHost.StartGateway(new Dictionary<string, string>
        {
            ["UPSTREAMS"] = $"{doomed.Address},{survivor.Address}",
            ["FfProxy:Gateway:HealthCheckInterval"] = "00:00:02",
        });
        await gateway.WaitForHealthyUpstreamsAsync(2, Within);

        // The Gateway sends one token's requests to one Replica: take SDK tokens that land on each of them.
        var tokens = await UpstreamTokens.SpreadAsync(target => gateway.AuthenticateAsync(OnlineProxy.ServerKey, new { identifier = target, name = target }), 2, 10);
        var streams = new List<SseClient>();
        foreach (var (token, _) in tokens)
        {
            streams.Add(await SseClient.ConnectAsync(gateway.BaseAddress, token, OnlineProxy.ServerKey));
        }

        // The Gateway holds the SDK streams; each Replica holds one, the feed of the SDKs pinned to it (UPSTREAMS lists
        // the doomed one first). Exactly the streams pinned to the doomed Replica must end when it dies.
        await Eventually.TrueAsync(async () => await StreamsConnectedAsync(doomed) == 1 && await StreamsConnectedAsync(survivor) == 1, Within,
            "each Replica feeds the streams pinned to it with one stream");
        var onDoomed = tokens.Count(t => t.Upstream == 0);
        Assert.InRange(onDoomed, 1, streams.Count - 1);

        // Load: four clients (two on each Replica) GET in a loop through the Gateway; the Replica dies in the middle of it.
        var statuses = new ConcurrentBag<int>();
        var failures = new ConcurrentBag<string>();
        using var stopLoad = new CancellationTokenSource();
        var served = 0;
        var load = tokens.Where((_, i) => i % 5 == 0).Select(t => Task.Run(async () =>
        {
            using var client = new HttpClient { BaseAddress = gateway.BaseAddress, Timeout = TimeSpan.FromSeconds(20) };
            client.DefaultRequestHeaders.Authorization = new("Bearer", t.Token);
            while (!stopLoad.IsCancellationRequested)
            {
                try
                {
                    using var response = await client.GetAsync($"/client/env/{Env}/feature-configs");
                    statuses.Add((int)response.StatusCode);
                    Interlocked.Increment(ref served);
                }
                catch (HttpRequestException ex)
                {
                    failures.Add(ex.Message);
                }
            }
        })).ToList();

        await Eventually.TrueAsync(() => Task.FromResult(Volatile.Read(ref served) >= 200), Within, "load is flowing before the kill");
        doomed.Kill();
        var atKill = Volatile.Read(ref served);
        await Eventually.TrueAsync(() => Task.FromResult(Volatile.Read(ref served) >= atKill + 400), Within, "load keeps flowing after the kill");
        stopLoad.Cancel();
        await Task.WhenAll(load);

        Assert.Empty(failures);
        Assert.DoesNotContain(statuses, s => s >= 500);
        Assert.All(statuses, s => Assert.Equal(200, s));

        // The streams the dead Replica held end as complete responses; the SDKs reconnect through the Gateway.
        await Eventually.TrueAsync(() => Task.FromResult(streams.Count(s => s.Completion.IsCompleted) == onDoomed), Within, "the streams on the dead Replica end");
        var ended = streams.Where(s => s.Completion.IsCompleted).ToList();
        Assert.Equal(Enumerable.Range(0, streams.Count).Where(i => tokens[i].Upstream == 0), Enumerable.Range(0, streams.Count).Where(i => streams[i].Completion.IsCompleted));
        Assert.All(ended, s => Assert.True(s.EndedCleanly, "a stream of the dead Replica ended cleanly, not by a reset"));
        var open = streams.Except(ended).ToList();
        foreach (var _ in ended)
        {
            open.Add(await SseClient.ConnectAsync(gateway.BaseAddress, tokens[0].Token, OnlineProxy.ServerKey));
        }

        proxy.Saas.SetFlag(Env, FakeSaas.Flag("dark_mode", serve: "false", environment: Env));
        foreach (var stream in open)
        {
            Assert.Equal("dark_mode", (await stream.NextEventAsync(Within)).GetProperty("identifier").GetString());
        }

        foreach (var stream in streams.Concat(open).Distinct())
        {
            await stream.DisposeAsync();
        }

        // The dead Replica is out of the Gateway's view.
        await gateway.WaitForHealthyUpstreamsAsync(1, Within);
    }

    /// <summary>The SDK streams a Replica holds, from its own gauge.</summary>
    private static async Task<int> StreamsConnectedAsync(ProxyProcess replica)
    {
        using var client = new HttpClient { BaseAddress = replica.BaseAddress };
        var values = PrometheusText.Values(await client.GetStringAsync("/metrics"), "ff_proxy_sdk_streams_connected");
        return (int)values.Sum();
    }
}

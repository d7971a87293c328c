using System.Collections.Concurrent;
using System.Net.Http.Json;
using System.Text.Json;
using FfProxy.Gateway;
using FfProxy.Tests.Fakes;
using FfProxy.Tests.Fixtures;

namespace FfProxy.Tests.Faults;

/// <summary>
/// Issue 11, "the Primary killed (SIGKILL), flag changed at SaaS meanwhile, restarted", with the Primary and the
/// Replicas as real processes behind the real Gateway: GETs are served throughout and the change reaches every
/// open SDK stream once the Primary has re-synced.
/// </summary>
public sealed class PrimaryKillTests(RedisServer redis) : IClassFixture<RedisServer>
{
    private const string Env = OnlineProxy.Env;
    private static readonly TimeSpan Within = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task Replicas_serve_while_the_primary_is_killed_and_a_change_made_meanwhile_reaches_every_stream_after_its_restart()
    {
        var (saas, proxyKey) = await OnlineProxy.StartSaasAsync(redis);
        await using var _ = saas;
        var primary = await PrimaryProcess.StartAsync(saas, redis, proxyKey);
        try
        {
            await using var replicaA = await ReplicaProcess.StartAsync(redis.Address);
            await using var replicaB = await ReplicaProcess.StartAsync(redis.Address);
            await using var gateway = PrimaryHost.StartGateway(new Dictionary<string, string> { ["UPSTREAMS"] = $"{replicaA.Address},{replicaB.Address}" });
            await gateway.WaitForHealthyUpstreamsAsync(2, Within);

            var token = await gateway.AuthenticateAsync(OnlineProxy.ServerKey);
            var streams = new List<SseClient>();
            for (var i = 0; i < 10; i++)
            {
                streams.Add(await SseClient.ConnectAsync(gateway.BaseAddress, token, OnlineProxy.ServerKey));
            }

            // Load: two clients evaluate dark_mode in a loop through the Gateway, before, during and after the outage.
            var values = new ConcurrentQueue<(int Status, string? Value)>();
            var failures = new ConcurrentBag<string>();
            using var stopLoad = new CancellationTokenSource();
            var served = 0;
            var load = Enumerable.Range(0, 2).Select(_ => Task.Run(async () =>
            {
                using var client = new HttpClient { BaseAddress = gateway.BaseAddress, Timeout = TimeSpan.FromSeconds(20) };
                client.DefaultRequestHeaders.Authorization = new("Bearer", token);
                while (!stopLoad.IsCancellationRequested)
                {
                    try
                    {
                        using var response = await client.GetAsync($"/client/env/{Env}/target/t1/evaluations/dark_mode");
                        var body = await response.Content.ReadAsStringAsync();
                        values.Enqueue(((int)response.StatusCode, response.IsSuccessStatusCode ? JsonDocument.Parse(body).RootElement.GetProperty("value").GetString() : body));
                        Interlocked.Increment(ref served);
                    }
                    catch (HttpRequestException ex)
                    {
                        failures.Add(ex.Message);
                    }
                }
            })).ToList();

            await Eventually.TrueAsync(() => Task.FromResult(Volatile.Read(ref served) >= 50), Within, "load is flowing before the kill");
            primary.Kill();
            saas.SetFlag(Env, FakeSaas.Flag("dark_mode", serve: "false", version: 2, environment: Env));
            var atKill = Volatile.Read(ref served);
            await Eventually.TrueAsync(() => Task.FromResult(Volatile.Read(ref served) >= atKill + 200), Within, "Replicas serve while the Primary is down");
            Assert.All(streams, s => Assert.False(s.Completion.IsCompleted, "an SDK stream stays open while the Primary is down"));

            await primary.DisposeAsync();
            primary = await PrimaryProcess.StartAsync(saas, redis, proxyKey);
            foreach (var stream in streams)
            {
                var change = await stream.NextEventAsync(Within);
                Assert.Equal("dark_mode", change.GetProperty("identifier").GetString());
            }

            await Eventually.TrueAsync(() => Task.FromResult(values.LastOrDefault().Value == "false"), Within, "the Replicas serve the change");
            stopLoad.Cancel();
            await Task.WhenAll(load);
            foreach (var stream in streams)
            {
                await stream.DisposeAsync();
            }

            Assert.Empty(failures);
            Assert.All(values, v => Assert.Equal(200, v.Status));
            Assert.All(values, v => Assert.True(v.Value is "true" or "false", "an evaluation served " + v.Value));
        }
        finally
        {
            await primary.DisposeAsync();
        }
    }
}

using System.Net.Http.Json;
using System.Text.Json;
using FfProxy.Gateway;
using FfProxy.Tests.Fakes;
using FfProxy.Tests.Fixtures;
using FfProxy.Tests.Replica;

namespace FfProxy.Tests.Gateway;

/// <summary>
/// Issue 15 item 6: Replicas announce a change on their SDK streams as soon as they hold it (no publish delay), and an
/// SDK's refetch after <c>event: *</c> still sees the new version wherever it goes through the Gateway: one token's
/// requests all reach the Replica that carried its stream. The other Replica is frozen (SIGSTOP) during each edit,
/// the extreme of a Replica that has not read the event yet; the Gateway still counts it healthy.
/// </summary>
public sealed class RefetchAfterEventTests(RedisServer redis) : IClassFixture<RedisServer>
{
    private const string Env = OnlineProxy.Env;
    private static readonly TimeSpan Within = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task A_refetch_after_an_event_sees_the_new_version_while_the_other_replica_lags()
    {
        await using var proxy = await OnlineProxy.StartAsync(redis, ReplicaTests.FastPrimary);
        await using var first = await ReplicaProcess.StartAsync(redis.Address);
        await using var second = await ReplicaProcess.StartAsync(redis.Address);
        ProxyProcess[] replicas = [first, second];
        await using var gateway = PrimaryHost.StartGateway(new Dictionary<string, string>
        {
            ["UPSTREAMS"] = $"{first.Address},{second.Address}",
            // Health checks must not notice the frozen Replica during the test: it stands for a slow one.
            ["FfProxy:Gateway:HealthCheckInterval"] = "00:10:00",
        });
        await gateway.WaitForHealthyUpstreamsAsync(2, Within);

        var tokens = await UpstreamTokens.SpreadAsync(target => gateway.AuthenticateAsync(OnlineProxy.ServerKey, new { identifier = target, name = target }), 2, 1);
        foreach (var (token, upstream) in tokens)
        {
            await using var stream = await SseClient.ConnectAsync(gateway.BaseAddress, token, OnlineProxy.ServerKey);
            using var sdk = new HttpClient { BaseAddress = gateway.BaseAddress, Timeout = TimeSpan.FromSeconds(10) };
            sdk.DefaultRequestHeaders.Authorization = new("Bearer", token);
            var lagging = replicas[1 - upstream];
            lagging.Pause();
            try
            {
                for (var edit = 0; edit < 3; edit++)
                {
                    var written = proxy.Saas.SetFlag(Env, FakeSaas.Flag("dark_mode", serve: edit % 2 == 0 ? "false" : "true", environment: Env));
                    // A Replica just unfrozen replays what it missed (older versions) to streams that joined it meanwhile.
                    var announced = await NextFlagEventAsync(stream, "dark_mode", written);
                    Assert.Equal(written, announced);

                    // What an SDK does on the event: fetch the flag by id, at once, with its token.
                    var flag = await sdk.GetFromJsonAsync<JsonElement>($"/client/env/{Env}/feature-configs/dark_mode");
                    Assert.Equal(announced, flag.GetProperty("version").GetInt64());
                }
            }
            finally
            {
                lagging.Resume();
            }
        }
    }

    /// <summary>The next event of the flag announcing at least <paramref name="version"/>.</summary>
    private static async Task<long> NextFlagEventAsync(SseClient stream, string identifier, long version)
    {
        while (true)
        {
            var data = await stream.NextEventAsync(Within);
            if (data.GetProperty("domain").GetString() == "flag" && data.GetProperty("identifier").GetString() == identifier
                && data.GetProperty("version").GetInt64() >= version)
            {
                return data.GetProperty("version").GetInt64();
            }
        }
    }
}

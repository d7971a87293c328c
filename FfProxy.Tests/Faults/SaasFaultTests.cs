using FfProxy.Tests.Fakes;
using FfProxy.Tests.Fixtures;

namespace FfProxy.Tests.Faults;

/// <summary>
/// Issue 11: a SaaS that cuts replies, drops connections or answers too slowly is a disconnected SaaS (spec §3.5):
/// the Primary keeps serving, keeps polling and reconnects when SaaS recovers; it never exits.
/// </summary>
public sealed class SaasFaultTests(RedisServer redis) : IClassFixture<RedisServer>
{
    private const string Env = OnlineProxy.Env;
    private static readonly TimeSpan Within = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task Replies_cut_mid_body_during_a_resync_keep_the_primary_polling_until_saas_recovers()
    {
        await using var proxy = await OnlineProxy.StartAsync(redis);
        proxy.Saas.CutConfigReplies = true;
        proxy.Saas.RefuseStreams = true;
        proxy.Saas.DropStreams();

        await proxy.WaitForStreamStateAsync("DISCONNECTED", Within);
        await ExpectPollsAsync(proxy, 3);
        Assert.Contains(proxy.Logs.Lines, l => l.Contains("reply was cut off", StringComparison.Ordinal));
        await ExpectRecoveryAsync(proxy, () =>
        {
            proxy.Saas.CutConfigReplies = false;
            proxy.Saas.RefuseStreams = false;
        });
    }

    [Fact]
    public async Task Connections_dropped_for_longer_than_the_stream_retry_keep_the_primary_polling_until_saas_recovers()
    {
        await using var proxy = await OnlineProxy.StartAsync(redis);
        proxy.Saas.DropConnections = true;
        proxy.Saas.DropStreams();

        await proxy.WaitForStreamStateAsync("DISCONNECTED", Within);
        await ExpectPollsAsync(proxy, 3, path: "/proxy/auth");
        await ExpectRecoveryAsync(proxy, () => proxy.Saas.DropConnections = false);
    }

    [Fact]
    public async Task A_saas_slower_than_the_fetch_timeouts_is_retried_never_an_exit()
    {
        await using var proxy = await OnlineProxy.StartAsync(redis, new Dictionary<string, string>
        {
            // The whole-fetch deadline, not the per-request timeout, is what runs out.
            ["FfProxy:Saas:ConfigFetchTimeout"] = "00:00:00.500",
        });
        proxy.Saas.ConfigDelay = TimeSpan.FromSeconds(3);
        proxy.Saas.RefuseStreams = true;
        proxy.Saas.DropStreams();

        await proxy.WaitForStreamStateAsync("DISCONNECTED", Within);
        await ExpectPollsAsync(proxy, 3);
        Assert.Contains(proxy.Logs.Lines, l => l.Contains("/proxy/config did not answer within", StringComparison.Ordinal));
        await ExpectRecoveryAsync(proxy, () =>
        {
            proxy.Saas.ConfigDelay = TimeSpan.Zero;
            proxy.Saas.RefuseStreams = false;
        });
    }

    /// <summary>Re-syncs keep coming while SaaS fails, and SDKs keep being served from what the Primary holds.</summary>
    private static async Task ExpectPollsAsync(OnlineProxy proxy, int count, string path = "/proxy/config")
    {
        proxy.Saas.ClearRequests();
        await Eventually.TrueAsync(() => Task.FromResult(proxy.Saas.Requests.Count(r => r.Path == FakeSaas.ApiPrefix + path) >= count),
            Within, $"the Primary keeps polling SaaS ({count} × {path})");
        Assert.Equal("true", await proxy.EvaluateAsync("dark_mode"));
    }

    /// <summary>When SaaS answers again, the Primary reconnects and serves what changed meanwhile.</summary>
    private static async Task ExpectRecoveryAsync(OnlineProxy proxy, Action recover)
    {
        proxy.Saas.SetFlag(Env, FakeSaas.Flag("dark_mode", serve: "false", version: 2, environment: Env), silent: true);
        recover();
        await proxy.WaitForStreamStateAsync("CONNECTED", Within);
        await Eventually.TrueAsync(async () => await proxy.EvaluateAsync("dark_mode") == "false", Within, "the change made during the outage is served");
    }
}

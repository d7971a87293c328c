using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using FfProxy.Core.Caching;
using FfProxy.Tests.Fakes;
using FfProxy.Tests.Fixtures;
using StackExchange.Redis;

namespace FfProxy.Tests.Faults;

/// <summary>
/// Issue 11, "the Primary killed; SDK metrics posted just before and during the outage", with the Primary as a real
/// process. The README's guarantee, exactly: at most once to SaaS; a SIGTERM flushes what the Primary holds; on
/// SIGKILL what it had taken in (its position saved past it) or accepted on its own <c>/metrics</c> but not yet
/// posted is lost; everything a Replica appended while no Primary ran is forwarded after the restart.
/// </summary>
public sealed class PrimaryKillMetricsTests(RedisServer redis) : IClassFixture<RedisServer>
{
    private const string Env = OnlineProxy.Env;
    private const string MetricsStream = "stream:sdk_metrics";
    private static readonly TimeSpan Within = TimeSpan.FromSeconds(20);

    // A post interval longer than the test: only a graceful stop can post what a Primary holds.
    private static readonly Dictionary<string, string> NoTimedPosts = new() { ["METRIC_POST_DURATION"] = "600" };

    [Fact]
    public async Task Sigterm_flushes_sigkill_loses_only_the_stated_window_and_what_replicas_accepted_meanwhile_arrives_once()
    {
        var (saas, proxyKey) = await OnlineProxy.StartSaasAsync(redis);
        await using var _ = saas;
        var primary = await PrimaryProcess.StartAsync(saas, redis, proxyKey, NoTimedPosts);
        try
        {
            await using var replica = await ReplicaProcess.StartAsync(redis.Address);
            using var toReplica = await AuthenticatedClientAsync(replica.BaseAddress);

            // 1. SIGTERM: the batch the Primary took in from the stream is posted as it stops.
            await PostAsync(toReplica, 3);
            await WaitForPositionAtLastEntryAsync();
            await primary.TerminateAsync(Within);
            Assert.Equal([3], Counts(saas));

            // 2. SIGKILL: what the Primary took in (position saved past it) and what it accepted itself are lost.
            primary = await PrimaryProcess.StartAsync(saas, redis, proxyKey, NoTimedPosts);
            using (var toPrimary = await AuthenticatedClientAsync(primary.BaseAddress))
            {
                await PostAsync(toPrimary, 100);
            }

            await PostAsync(toReplica, 1000);
            await WaitForPositionAtLastEntryAsync();
            primary.Kill();

            // 3. No Primary: the Replica keeps accepting into the stream.
            await PostAsync(toReplica, 7);
            await PostAsync(toReplica, 11);

            // 4. Restarted, the Primary resumes after its saved position: 7 and 11 arrive, 1000 is not read again.
            await primary.DisposeAsync();
            primary = await PrimaryProcess.StartAsync(saas, redis, proxyKey, new Dictionary<string, string> { ["METRIC_POST_DURATION"] = "1" });
            await Eventually.TrueAsync(() => Task.FromResult(Counts(saas).Sum() >= 3 + 7 + 11), Within, "what the Replica accepted while no Primary ran reached SaaS");
            await primary.TerminateAsync(Within); // everything it still holds is posted: SaaS now has all it will get
            Assert.Equal(3 + 7 + 11, Counts(saas).Sum());
            Assert.DoesNotContain(Counts(saas), c => c >= 100);
        }
        finally
        {
            await primary.DisposeAsync();
        }
    }

    /// <summary>Waits until the Primary's saved position is the stream's last entry (it took in all there is).</summary>
    private async Task WaitForPositionAtLastEntryAsync()
    {
        await using var connection = await redis.ConnectAsync();
        var db = connection.GetDatabase();
        var last = (await db.StreamRangeAsync(MetricsStream, count: 1, messageOrder: Order.Descending)).Single().Id.ToString();
        await Eventually.TrueAsync(async () => await db.StringGetAsync(CacheKeys.SdkMetricsPosition) == last, Within,
            $"the Primary saved its position at {last}");
    }

    private static async Task<HttpClient> AuthenticatedClientAsync(Uri baseAddress)
    {
        var client = new HttpClient { BaseAddress = baseAddress, Timeout = TimeSpan.FromSeconds(10) };
        using var response = await client.PostAsJsonAsync("/client/auth", new { apiKey = OnlineProxy.ServerKey });
        response.EnsureSuccessStatusCode();
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        client.DefaultRequestHeaders.Authorization = new("Bearer", body.RootElement.GetProperty("authToken").GetString());
        return client;
    }

    private static async Task PostAsync(HttpClient client, int count)
    {
        using var response = await client.PostAsync($"/metrics/{Env}", new StringContent(
            $$"""{"metricsData":[{"timestamp":1,"count":{{count}},"metricsType":"FFMETRICS","attributes":[{"key":"featureIdentifier","value":"dark_mode"},{"key":"variationIdentifier","value":"true"}]}]}""",
            Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    /// <summary>The summed count of each metrics post SaaS received, in order.</summary>
    private static List<int> Counts(FakeSaas saas) =>
        [.. saas.MetricsPosts.Select(p => p.Json?["metricsData"] is System.Text.Json.Nodes.JsonArray data ? data.Sum(m => m?["count"]?.GetValue<int>() ?? 0) : 0)];
}

using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using FfProxy.Tests.Fakes;
using FfProxy.Tests.Fixtures;
using FfProxy.Tests.Replica;

namespace FfProxy.Tests.Deployment;

/// <summary>Every metric the shipped Grafana dashboard queries is exposed by a running Primary or Replica.</summary>
public sealed partial class MonitoringTests(RedisServer redis) : IClassFixture<RedisServer>
{
    private const string Env = OnlineProxy.Env;

    [Fact]
    public async Task Every_metric_of_the_dashboard_is_exposed_by_a_running_proxy()
    {
        var dashboard = await File.ReadAllTextAsync(Path.Combine(RepositoryPaths.Root, "deploy", "monitoring", "grafana-dashboard.json"));
        var queried = JsonDocument.Parse(dashboard).RootElement.GetProperty("panels").EnumerateArray()
            .Where(p => p.TryGetProperty("targets", out _))
            .SelectMany(p => p.GetProperty("targets").EnumerateArray())
            .SelectMany(t => MetricName().Matches(t.GetProperty("expr").GetString()!).Select(m => m.Value))
            .ToHashSet(StringComparer.Ordinal);
        Assert.True(queried.Count >= 15, "the dashboard queries the spec §7 metrics");

        await using var proxy = await OnlineProxy.StartAsync(redis, new Dictionary<string, string>(ReplicaTests.FastPrimary));
        await using var replica = ReplicaTests.StartReplica(redis.Address);
        await ReplicaTests.WaitForReplicaStateAsync(replica, "CONNECTED");

        // Traffic that touches every part: SDK reads and streams on both roles, a SaaS change, metrics from a Replica.
        var token = await replica.AuthenticateAsync(OnlineProxy.ServerKey);
        var streams = new List<SseClient>();
        foreach (var host in (PrimaryHost[])[proxy.Primary, replica])
        {
            using var client = new HttpClient { BaseAddress = host.BaseAddress };
            client.DefaultRequestHeaders.Authorization = new("Bearer", token);
            await client.GetStringAsync($"/client/env/{Env}/feature-configs");
            using var posted = await client.PostAsync($"/metrics/{Env}", new StringContent(
                """{"metricsData":[{"timestamp":1,"count":1,"metricsType":"FFMETRICS","attributes":[{"key":"featureIdentifier","value":"dark_mode"},{"key":"SDK_TYPE","value":"server"},{"key":"SDK_LANGUAGE","value":"node"},{"key":"SDK_VERSION","value":"1.8.12"}]}]}""",
                Encoding.UTF8, "application/json"));
            streams.Add(await SseClient.ConnectAsync(host.BaseAddress, token, OnlineProxy.ServerKey));
        }

        proxy.Saas.SetFlag(Env, FakeSaas.Flag("dark_mode", serve: "false", environment: Env));
        foreach (var stream in streams)
        {
            await stream.NextEventAsync(TimeSpan.FromSeconds(10));
        }

        proxy.Saas.DeleteFlag(Env, "dark_mode"); // a removal from the cache
        foreach (var stream in streams)
        {
            await stream.NextEventAsync(TimeSpan.FromSeconds(10));
        }

        await Eventually.TrueAsync(() => Task.FromResult(proxy.Saas.MetricsPosts.Count > 0), TimeSpan.FromSeconds(10), "metrics were forwarded");
        var scrapes = await proxy.Primary.Client.GetStringAsync("/metrics") + "\n" + await replica.Client.GetStringAsync("/metrics");
        foreach (var stream in streams)
        {
            await stream.DisposeAsync();
        }

        var missing = queried.Where(name => !Regex.IsMatch(scrapes, $"^{name}[{{ ]", RegexOptions.Multiline)).ToList();
        Assert.True(missing.Count == 0, "not exposed: " + string.Join(", ", missing));
    }

    [GeneratedRegex(@"\bff_[a-z0-9_]+")]
    private static partial Regex MetricName();
}

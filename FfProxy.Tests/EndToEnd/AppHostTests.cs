using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;
using FfProxy.Tests.Fakes;
using FfProxy.Tests.Fixtures;
using FfProxy.Tests.Replica;
using FfProxy.Tests.SdkCompat;

namespace FfProxy.Tests.EndToEnd;

/// <summary>
/// The whole topology as the AppHost runs it (Aspire.Hosting.Testing, redis-server as a process, no Docker):
/// Primary, two Replicas and the Gateway. Few and broad on purpose; the parts are tested below this level.
/// </summary>
[Collection(nameof(AppHostTests))]
public sealed class AppHostTests
{
    private static readonly TimeSpan Startup = TimeSpan.FromMinutes(3);

    [Fact]
    public async Task Offline_topology_balances_sdks_over_replicas_and_relays_a_config_edit_to_every_stream()
    {
        using var config = new Fixtures.TempDirectory(RepositoryPaths.SampleConfig);
        await using var app = await StartAsync($"--ConfigDir={config.Path}");
        using var gateway = app.CreateHttpClient("gateway", "http");

        // The Gateway sends one token's requests to one Replica (service discovery names both Replicas in one upstream,
        // so which one is not predictable here): SDKs with fresh tokens until each Replica served one.
        var tokens = new List<string>();
        await Eventually.TrueAsync(async () =>
        {
            var sdkToken = await AuthenticateAsync(gateway, Sample.ServerKey);
            if (!tokens.Contains(sdkToken))
            {
                tokens.Add(sdkToken);
                using var request = new HttpRequestMessage(HttpMethod.Get, $"/client/env/{Sample.Environment}/feature-configs");
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", sdkToken);
                Assert.Equal(HttpStatusCode.OK, (await gateway.SendAsync(request)).StatusCode);
            }

            var served = 0;
            foreach (var replica in (string[])["replica0", "replica1"])
            {
                using var direct = app.CreateHttpClient(replica, "http");
                served += PrometheusText.HasSample(await direct.GetStringAsync("/metrics"), "ff_proxy_http_requests_total", ("url", "/client/env/:environment_uuid/feature-configs"), ("code", "200")) ? 1 : 0;
            }

            return served == 2;
        }, TimeSpan.FromSeconds(90), "each Replica served an SDK (the token the other instance issued was accepted)");

        var token = tokens[0];
        gateway.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);

        // Their streams through the Gateway land on both Replicas; an edit reaches every one within 2 s.
        var streams = new List<SseClient>();
        foreach (var sdkToken in tokens)
        {
            streams.Add(await SseClient.ConnectAsync(gateway.BaseAddress!, sdkToken, Sample.ServerKey));
        }

        var path = Path.Combine(Sample.EnvironmentDirectory(config.Path), "feature_config.json");
        var edited = (await File.ReadAllTextAsync(path)).Replace("Hello, beta tester", "Edited in the topology", StringComparison.Ordinal);
        var watch = Stopwatch.StartNew(); // from the write: closing streams and preparing the edit are not part of it
        await File.WriteAllTextAsync(path, edited);
        foreach (var stream in streams)
        {
            Assert.Equal("patch", (await stream.NextEventAsync(TimeSpan.FromSeconds(5))).GetProperty("event").GetString());
        }

        watch.Stop();
        foreach (var stream in streams)
        {
            await stream.DisposeAsync();
        }

        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(2), $"the edit took {watch.Elapsed} to reach every stream");

        // The published npm SDKs, through the Gateway (each run edits the banner once more).
        await RestoreBannerAsync(gateway, path, "Edited in the topology");
        await HarnessSdkTests.RunAsync("server-sdk.mjs", Sample.ServerKey, gateway.BaseAddress!, config.Path);
        await RestoreBannerAsync(gateway, path, "Edited while streaming");
        await HarnessSdkTests.RunAsync("client-sdk.mjs", Sample.ClientKey, gateway.BaseAddress!, config.Path);

        // The JS client SDK in Chromium on another origin: CORS preflights through the Gateway.
        await RestoreBannerAsync(gateway, path, "Edited while streaming");
        await Browser.BrowserSdkPage.RunAsync(gateway.BaseAddress!, config.Path);
    }

    private static async Task RestoreBannerAsync(HttpClient gateway, string path, string edited)
    {
        await File.WriteAllTextAsync(path, (await File.ReadAllTextAsync(path)).Replace(edited, "Hello, beta tester", StringComparison.Ordinal));
        await Eventually.TrueAsync(async () =>
        {
            var first = await gateway.GetStringAsync($"/client/env/{Sample.Environment}/feature-configs");
            var second = await gateway.GetStringAsync($"/client/env/{Sample.Environment}/feature-configs");
            return !first.Contains(edited, StringComparison.Ordinal) && !second.Contains(edited, StringComparison.Ordinal);
        }, TimeSpan.FromSeconds(10), "both Replicas serve the restored banner");
    }

    [Fact]
    public async Task Online_topology_relays_saas_changes_forwards_metrics_and_survives_losing_a_replica_and_the_primary()
    {
        await using var saas = await FakeSaas.StartAsync();
        const string env = OnlineProxy.Env;
        saas.AddEnvironment(env, [OnlineProxy.ServerKey], silent: true);
        saas.SetFlag(env, FakeSaas.Flag("dark_mode", environment: env), silent: true);
        var proxyKey = saas.CreateProxyKey(env);
        await using var app = await StartAsync(
            $"--Parameters:proxy-key={proxyKey}", "--Parameters:auth-secret=topology-test-secret",
            $"--ClientService={saas.ClientService}", $"--MetricService={saas.MetricService}",
            "--PrimaryEnvironment:METRIC_POST_DURATION=1", "--ReplicaEnvironment:FORWARD_TARGETS=true");
        using var gateway = app.CreateHttpClient("gateway", "http");
        var token = await AuthenticateAsync(gateway, OnlineProxy.ServerKey);
        gateway.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);

        // Replicas forward targets to the SaaS the AppHost was given (--ClientService reaches them too).
        using (var withTarget = await gateway.PostAsync("/client/auth", new StringContent(
            $$$"""{"apiKey":"{{{OnlineProxy.ServerKey}}}","target":{"identifier":"apphost-user","name":"AppHost User"}}""", Encoding.UTF8, "application/json")))
        {
            withTarget.EnsureSuccessStatusCode();
        }

        await Eventually.TrueAsync(() => Task.FromResult(saas.TargetAuths.Any(r => r.Json?["target"]?["identifier"]?.GetValue<string>() == "apphost-user")),
            TimeSpan.FromSeconds(10), "a Replica forwarded the target to the fake SaaS");

        // Every Replica's streams get a SaaS change within 2 s.
        var streams = new List<SseClient>();
        await Eventually.TrueAsync(async () =>
        {
            try
            {
                streams.Add(await SseClient.ConnectAsync(gateway.BaseAddress!, token, OnlineProxy.ServerKey));
            }
            catch (HttpRequestException ex) when (ex.StatusCode == HttpStatusCode.ServiceUnavailable)
            {
                // A Replica still INITIALIZING (it polls the Primary's state every 5 s).
            }

            return streams.Count == 4;
        }, TimeSpan.FromSeconds(30), "four streams open through the Gateway");
        var watch = Stopwatch.StartNew();
        saas.SetFlag(env, FakeSaas.Flag("dark_mode", serve: "false", environment: env));
        foreach (var stream in streams)
        {
            Assert.Equal("dark_mode", (await stream.NextEventAsync(TimeSpan.FromSeconds(5))).GetProperty("identifier").GetString());
        }

        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(2), $"the change took {watch.Elapsed} to reach every stream");

        // Metrics posted through the Gateway reach SaaS aggregated.
        for (var i = 0; i < 4; i++)
        {
            using var posted = await gateway.PostAsync($"/metrics/{env}", new StringContent(
                """{"metricsData":[{"timestamp":1,"count":1,"metricsType":"FFMETRICS","attributes":[{"key":"featureIdentifier","value":"dark_mode"},{"key":"variationIdentifier","value":"false"}]}]}""",
                Encoding.UTF8, "application/json"));
            Assert.Equal(HttpStatusCode.OK, posted.StatusCode);
        }

        var buckets = () => saas.MetricsPosts.SelectMany(p => p.Json!["metricsData"]?.AsArray() ?? []).ToList();
        await Eventually.TrueAsync(() => Task.FromResult(buckets().Sum(n => n!["count"]!.GetValue<int>()) == 4), TimeSpan.FromSeconds(15), "4 evaluations arrived");
        Assert.True(buckets().Count < 4, "entries of one bucket were merged");

        // A Replica dies: requests of every token (each token has its Replica) are answered at once, the dead
        // one's by the other (not held for the Gateway's idle timeout by a proxy kept in front of the dead one); and
        // its SDKs reconnect through the Gateway once, to the other one.
        var tokens = new List<string>();
        for (var i = 0; i < 12; i++)
        {
            tokens.Add(await AuthenticateAsync(gateway, OnlineProxy.ServerKey, $"failover-{i}"));
        }

        // Killed outright (as an out-of-memory kill would), not stopped through the orchestrator.
        Assert.True(app.ResourceNotifications.TryGetCurrentState("replica0", out var replica0), "replica0 is known");
        var pid = Convert.ToInt32(replica0.Snapshot.Properties.Single(p => p.Name == "executable.pid").Value, System.Globalization.CultureInfo.InvariantCulture);
        using (var process = Process.GetProcessById(pid))
        {
            // The orchestrator's pid is the launcher's (dotnet run); the Replica is its child. Killed alone, the launcher
            // left the Replica running (and orphaned after the test): kill the tree, and see the Replica gone.
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }

        using (var direct = new HttpClient { Timeout = TimeSpan.FromSeconds(2) })
        {
            await Assert.ThrowsAnyAsync<Exception>(() => direct.GetAsync(new Uri(app.GetEndpoint("replica0", "http"), "/health")));
        }

        foreach (var each in tokens)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, $"/client/env/{env}/feature-configs?cluster=1");
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", each);
            using var answered = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            using var response = await gateway.SendAsync(request, answered.Token);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        await Eventually.TrueAsync(async () =>
        {
            try
            {
                await using var again = await SseClient.ConnectAsync(gateway.BaseAddress!, token, OnlineProxy.ServerKey);
                return true;
            }
            catch (HttpRequestException)
            {
                return false;
            }
        }, TimeSpan.FromSeconds(20), "a stream reconnects through the Gateway");

        // The Primary stops: the Replica keeps serving from Redis and its snapshots.
        await app.ResourceCommands.ExecuteCommandAsync("primary", KnownResourceCommands.StopCommand);
        for (var i = 0; i < 4; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await gateway.GetAsync($"/client/env/{env}/target/t1/evaluations/dark_mode")).StatusCode);
        }

        foreach (var stream in streams)
        {
            await stream.DisposeAsync();
        }
    }

    private static async Task<DistributedApplication> StartAsync(params string[] extra)
    {
        using var cancel = new CancellationTokenSource(Startup);
        var builder = await DistributedApplicationTestingBuilder.CreateAsync<Projects.FfProxy_AppHost>(
            ["--DcpPublisher:WaitForResourceCleanup=false", "--RedisMode=executable", "--Replicas=2",
             "--ReplicaEnvironment:FfProxy__Replication__StatePoll=00:00:00.500", .. extra], cancel.Token);
        var app = await builder.BuildAsync(cancel.Token);
        await app.StartAsync(cancel.Token);
        await app.ResourceNotifications.WaitForResourceHealthyAsync("gateway", cancel.Token);
        return app;
    }

    private static async Task<string> AuthenticateAsync(HttpClient gateway, string sdkKey, string? target = null)
    {
        var body = target is null ? $$"""{"apiKey":"{{sdkKey}}"}""" : $$$"""{"apiKey":"{{{sdkKey}}}","target":{"identifier":"{{{target}}}"}}""";
        using var response = await gateway.PostAsync("/client/auth", new StringContent(body, Encoding.UTF8, "application/json"));
        response.EnsureSuccessStatusCode();
        return System.Text.Json.JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("authToken").GetString()!;
    }
}

[CollectionDefinition(nameof(AppHostTests), DisableParallelization = true)]
public sealed class AppHostTestGroup;

using FfProxy.Tests.Fakes;
using FfProxy.Tests.Fixtures;

namespace FfProxy.Tests.Primary;

/// <summary>GENERATE_OFFLINE_CONFIG: an online proxy writes the directory an offline one serves identically.</summary>
public sealed class OfflineExportTests(RedisServer redis) : IClassFixture<RedisServer>
{
    private const string Env = OnlineProxy.Env;

    [Fact]
    public async Task Export_then_offline_serves_the_same_responses_as_online()
    {
        await using var online = await OnlineProxy.StartAsync(redis, seed: (saas, _) =>
        {
            saas.SetFlag(Env, FakeSaas.Flag("second", on: false, environment: Env), silent: true);
            saas.SetSegment(Env, FakeSaas.Segment("vip", ["t1"], environment: Env), silent: true);
        });
        using var export = new TempDirectory();

        var (exitCode, output) = await RunPrimaryAsync(new Dictionary<string, string>
        {
            ["GENERATE_OFFLINE_CONFIG"] = "true",
            ["CONFIG_DIR"] = export.Path,
            ["PROXY_KEY"] = online.ProxyKey,
            ["CLIENT_SERVICE"] = online.Saas.ClientService.ToString(),
            ["METRIC_SERVICE"] = online.Saas.MetricService.ToString(),
            ["AUTH_SECRET"] = PrimaryHost.AuthSecret,
        });

        Assert.True(exitCode == 0, output);
        var envDir = Path.Combine(export.Path, "env-" + Env);
        foreach (var file in (string[])["auth_config.json", "feature_config.json", "segments.json", "targets.json", "README.md"])
        {
            Assert.True(File.Exists(Path.Combine(envDir, file)), file);
        }

        Assert.Contains(FakeSaas.Hash(OnlineProxy.ServerKey), await File.ReadAllTextAsync(Path.Combine(envDir, "auth_config.json")), StringComparison.Ordinal);
        Assert.DoesNotContain(online.ProxyKey, output, StringComparison.Ordinal);

        await using var offline = PrimaryHost.StartOffline(configSource: export.Path);
        using var onlineClient = await online.Primary.AuthenticatedClientAsync(OnlineProxy.ServerKey);
        using var offlineClient = await offline.AuthenticatedClientAsync(OnlineProxy.ServerKey);
        foreach (var path in (string[])[$"/client/env/{Env}/feature-configs", $"/client/env/{Env}/target-segments", $"/client/env/{Env}/target-segments?rules=v2",
                     $"/client/env/{Env}/feature-configs/dark_mode", $"/client/env/{Env}/target/t1/evaluations", $"/client/env/{Env}/target/t2/evaluations"])
        {
            Assert.Equal(await onlineClient.GetStringAsync(path), await offlineClient.GetStringAsync(path));
        }
    }

    [Fact]
    public async Task Export_fails_with_a_non_zero_exit_when_saas_refuses_the_key()
    {
        await using var saas = await FakeSaas.StartAsync();
        using var export = new TempDirectory();

        var (exitCode, output) = await RunPrimaryAsync(new Dictionary<string, string>
        {
            ["GENERATE_OFFLINE_CONFIG"] = "true",
            ["CONFIG_DIR"] = export.Path,
            ["PROXY_KEY"] = "unknown-proxy-key",
            ["CLIENT_SERVICE"] = saas.ClientService.ToString(),
        });

        Assert.Equal(1, exitCode);
        Assert.Contains("Offline export", output, StringComparison.Ordinal);
        Assert.Empty(Directory.EnumerateFileSystemEntries(export.Path));
    }

    /// <summary>Runs the built Primary as its own process, as an operator would.</summary>
    private static Task<(int ExitCode, string Output)> RunPrimaryAsync(Dictionary<string, string> environment) =>
        Commands.RunAsync("dotnet", [Path.Combine(AppContext.BaseDirectory, "FfProxy.Primary.dll")], environment: environment, timeout: TimeSpan.FromSeconds(60));
}

using FfProxy.Tests.Fixtures;

namespace FfProxy.Tests.Sdk;

public sealed class HeartbeatTests
{
    [Fact]
    public async Task The_heartbeat_calls_the_own_health_endpoint_and_logs_the_answer()
    {
        var logs = new CapturedLogs();
        await using var proxy = PrimaryHost.StartOffline(new Dictionary<string, string> { ["HEARTBEAT_INTERVAL"] = "1" }, logs: logs);

        await Eventually.TrueAsync(() => Task.FromResult(logs.All.Contains("Heartbeat: healthy", StringComparison.Ordinal)
            && logs.All.Contains("\"configStatus\":{\"state\":\"SYNCED\"", StringComparison.Ordinal)), TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task Zero_disables_the_heartbeat()
    {
        var logs = new CapturedLogs();
        await using var proxy = PrimaryHost.StartOffline(new Dictionary<string, string> { ["HEARTBEAT_INTERVAL"] = "0" }, logs: logs);

        // The heartbeat's loop has ended when it says so; nothing can call /health after that.
        await Eventually.TrueAsync(() => Task.FromResult(logs.All.Contains("health heartbeat is disabled", StringComparison.Ordinal)), TimeSpan.FromSeconds(10));
        Assert.DoesNotContain("Heartbeat: healthy", logs.All, StringComparison.Ordinal);
        Assert.DoesNotContain("Heartbeat: /health", logs.All, StringComparison.Ordinal);
    }
}

namespace FfProxy.Tests.Fixtures;

/// <summary>FfProxy.Replica as its own operating-system process (see <see cref="ProxyProcess"/>).</summary>
public static class ReplicaProcess
{
    /// <summary>Starts a Replica on a free port and waits until it follows the Primary (stream state CONNECTED).</summary>
    public static Task<ProxyProcess> StartAsync(string redisAddress, TimeSpan? within = null) =>
        ProxyProcess.StartAsync("FfProxy.Replica.dll", new Dictionary<string, string>
        {
            ["REDIS_ADDRESS"] = redisAddress,
            ["AUTH_SECRET"] = PrimaryHost.AuthSecret,
            ["HEARTBEAT_INTERVAL"] = "0",
            ["FfProxy:Replication:StatePoll"] = "00:00:00.200",
            ["FfProxy:Replication:ResubscribeBackoff"] = "00:00:00.300",
        }, within);
}

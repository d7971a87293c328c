namespace FfProxy.Replica.Replication;

/// <summary>
/// Intervals of a Replica's link to Redis, bound from the undocumented section <c>FfProxy:Replication</c> so
/// tests can shorten them.
/// </summary>
public sealed class ReplicationTimings
{
    public const string Section = "FfProxy:Replication";

    /// <summary>How often <c>ffproxy_saas_stream_health</c> is read while the Primary has not written it (spec §3.6).</summary>
    public TimeSpan StatePoll { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Wait before resubscribing after Redis failed. The Go proxy waits 60 s; a Replica serving stale
    /// snapshots should catch up sooner.</summary>
    public TimeSpan ResubscribeBackoff { get; set; } = TimeSpan.FromSeconds(5);
}

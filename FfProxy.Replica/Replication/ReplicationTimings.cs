namespace FfProxy.Replica.Replication;

/// <summary>
/// Intervals of a Replica's link to Redis, bound from the section <c>FfProxy:Replication</c> (README "Timings") so
/// tests can shorten them.
/// </summary>
internal sealed class ReplicationTimings
{
    public const string Section = "FfProxy:Replication";

    /// <summary>How often <c>ffproxy_saas_stream_health</c> is read while the Primary has not written it (spec §3.6).</summary>
    public TimeSpan StatePoll { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Wait before resubscribing after Redis failed. The Go proxy waits 60 s; a Replica serving stale
    /// snapshots should catch up sooner.</summary>
    public TimeSpan ResubscribeBackoff { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How often the <c>-latest</c> hashes are compared with what the snapshots were built from, to catch changes whose
    /// event never arrived (a Go Primary notifying before it writes, stream entries trimmed past MAXLEN); 0 disables it.
    /// </summary>
    public TimeSpan Reconciliation { get; set; } = TimeSpan.FromSeconds(30);
}

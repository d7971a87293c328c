namespace FfProxy.Primary.Saas;

/// <summary>
/// Intervals of the SaaS connection (spec §3.5, §6 "hard-coded values" of the Go proxy). Bound from the
/// configuration section <c>FfProxy:Saas</c> (README "Timings") so operators and tests can shorten them.
/// </summary>
internal sealed class SaasTimings
{
    public const string Section = "FfProxy:Saas";

    /// <summary>Wait between account-stream attempts; each failed attempt also re-syncs by polling.</summary>
    public TimeSpan StreamRetry { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>An account stream silent for this long (not even a heartbeat) is treated as lost.</summary>
    public TimeSpan StreamIdleTimeout { get; set; } = TimeSpan.FromMinutes(3);

    /// <summary>How often the stream state is re-published to Replicas on the control stream.</summary>
    public TimeSpan StateBroadcast { get; set; } = TimeSpan.FromSeconds(20);

    /// <summary>How often the Redis copy of the stream state is checked against memory.</summary>
    public TimeSpan StateVerification { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>First delay of the per-item refresh retry queue; doubles per attempt up to <see cref="RetryMaxDelay"/>.</summary>
    public TimeSpan RetryFirstDelay { get; set; } = TimeSpan.FromSeconds(5);

    public TimeSpan RetryMaxDelay { get; set; } = TimeSpan.FromSeconds(80);

    public int RetryMaxAttempts { get; set; } = 10;

    /// <summary>Per-attempt timeout of a SaaS request (the Go proxy's 30 s auth timeout).</summary>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Timeout of a whole paged configuration fetch.</summary>
    public TimeSpan ConfigFetchTimeout { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Backoff of the <c>stream:sdk_metrics</c> reader after a Redis error.</summary>
    public TimeSpan MetricsStreamBackoff { get; set; } = TimeSpan.FromSeconds(30);
}

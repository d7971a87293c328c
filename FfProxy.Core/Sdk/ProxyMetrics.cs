using System.Diagnostics.Metrics;

namespace FfProxy.Core.Sdk;

/// <summary>
/// The Prometheus instruments of spec §7 under their Go names and labels, so the public Grafana dashboard
/// built on them keeps working. Exported through OpenTelemetry (ServiceDefaults) on <c>/metrics</c>.
/// </summary>
public sealed class ProxyMetrics
{
    public const string MeterName = "FfProxy";

    // Prometheus client_golang DefBuckets, which the Go proxy uses for request durations.
    private static readonly double[] DurationBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
    private static readonly double[] ContentLengthBuckets = [100, 200, 400, 800, 1600, 3200, 6400, 12800, 25600, 51200];
    private static readonly double[] CacheBuckets = [0.01, 0.05, 0.1, 0.3, 0.5];

    private readonly Counter<long> _httpRequests;
    private readonly Histogram<double> _httpDuration;
    private readonly Histogram<double> _contentLength;
    private readonly Counter<long> _sdkUsage;
    private readonly Counter<long> _currentSecretTokens;
    private readonly Counter<long> _legacySecretTokens;
    private readonly Counter<long> _sdkEventsPublished;
    private readonly Meter _meter;

    public ProxyMetrics(IMeterFactory meterFactory, ProxyRole role)
    {
        _meter = meterFactory.Create(MeterName);
        Role = role;
        _httpRequests = _meter.CreateCounter<long>("ff_proxy_http_requests_total", description: "Records the number of requests to an endpoint");
        _httpDuration = _meter.CreateHistogram("ff_proxy_http_requests_duration", unit: null, description: "Records the request duration for an endpoint",
            tags: null, advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = DurationBuckets });
        _contentLength = _meter.CreateHistogram("ff_http_requests_content_length_histogram", unit: null, description: "Records the value of the Content-Length header for an http request",
            tags: null, advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = ContentLengthBuckets });
        _sdkUsage = _meter.CreateCounter<long>("ff_proxy_sdk_usage", description: "Metrics payloads received from SDKs, by SDK type, version and language");
        _currentSecretTokens = _meter.CreateCounter<long>("ff_proxy_auth_current_secret_tokens_total", description: "SDK tokens verified with AUTH_SECRET");
        _legacySecretTokens = _meter.CreateCounter<long>("ff_proxy_auth_legacy_secret_tokens_total", description: "SDK tokens verified with one of LEGACY_SECRETS");
        _sdkEventsPublished = _meter.CreateCounter<long>($"ff_proxy_{role.Name}_to_sdk_sse_producer_messages_published", description: "SSE events written to this instance's SDK streams");
    }

    public ProxyRole Role { get; }

    /// <summary><c>ff_proxy_sdk_streams_connected</c>: SDK streams this process holds (not in the Go proxy; dashboards want it).</summary>
    public void ObserveConnectedStreams(Func<int> count) =>
        _meter.CreateObservableGauge("ff_proxy_sdk_streams_connected", count, unit: null, description: "SDK streams (SSE) connected to this instance");

    /// <summary>
    /// <c>ff_proxy_stream_health</c>: 1 while <c>/health</c> reports the stream CONNECTED, on every role (a Primary's
    /// SaaS stream, always up offline; on a Replica, the Primary's as it last told it), labelled with the host as in Go.
    /// </summary>
    public void ObserveStreamHealth(Func<bool> connected)
    {
        var host = new KeyValuePair<string, object?>("host", System.Environment.MachineName);
        _meter.CreateObservableGauge("ff_proxy_stream_health", () => new Measurement<int>(connected() ? 1 : 0, host),
            unit: null, description: "1 while the upstream stream (SaaS, or the Primary's for a Replica) is connected");
    }

    public Meter Meter => _meter;

    public static IReadOnlyList<double> CacheDurationBuckets => CacheBuckets;

    public void RecordRequest(string url, string envId, int statusCode, double seconds)
    {
        _httpRequests.Add(1, new("url", url), new("envID", envId), new("code", StatusCodeText(statusCode)));
        _httpDuration.Record(seconds, new KeyValuePair<string, object?>("url", url));
    }

    public void RecordContentLength(long? length) => _contentLength.Record(length ?? -1);

    public void RecordSdkUsage(string envId, string sdkType, string sdkVersion, string sdkLanguage) =>
        _sdkUsage.Add(1, new("envID", envId), new("sdk_type", sdkType), new("sdk_version", sdkVersion), new("sdk_language", sdkLanguage));

    public void RecordTokenVerified(bool legacySecret) => (legacySecret ? _legacySecretTokens : _currentSecretTokens).Add(1);

    /// <summary>
    /// An event handed to this instance's SDK streams. Unlike the Go proxy's POST to Pushpin, handing it to the in-process
    /// hub cannot fail (a stream too slow to take it is closed and reconnects), so the error label is always "false".
    /// </summary>
    public void RecordSdkEventPublished(string topic) =>
        _sdkEventsPublished.Add(1, new("topic", topic), new("error", "false"));

    private static string StatusCodeText(int code) => code switch
    {
        200 => "200",
        304 => "304",
        400 => "400",
        401 => "401",
        404 => "404",
        500 => "500",
        503 => "503",
        _ => code.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };
}

/// <summary>Which process this is; names role-specific metrics as the Go proxy does.</summary>
public sealed record ProxyRole(string Name)
{
    public static readonly ProxyRole Primary = new("primary");
    public static readonly ProxyRole Replica = new("replica");
    public static readonly ProxyRole Gateway = new("gateway");
}

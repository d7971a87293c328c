using System.Diagnostics.Metrics;

namespace FfProxy.Primary.Saas;

/// <summary>The Primary's SaaS-facing instruments of spec §7, under the Go proxy's names and labels.</summary>
public sealed class SaasMetrics
{
    public const string MeterName = "FfProxy.Saas";

    private static readonly double[] DurationBuckets = [0.05, 0.1, 0.25, 0.5, 0.75, 1];

    private readonly Counter<long> _requests;
    private readonly Histogram<double> _duration;
    private readonly Counter<long> _metricsForwarded;
    private readonly string _host = System.Environment.MachineName;
    private volatile int _streamConnected;
    private volatile int _polling;

    public SaasMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(MeterName);
        _requests = meter.CreateCounter<long>("ff_proxy_to_client_service_requests", description: "Requests from the Primary to the SaaS client service");
        _duration = meter.CreateHistogram("ff_proxy_to_ff_client_service_requests_duration", unit: null,
            description: "Duration of requests from the Primary to the SaaS client service", tags: null,
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = DurationBuckets });
        _metricsForwarded = meter.CreateCounter<long>("ff_proxy_metrics_forwarded", description: "Metrics batches forwarded to SaaS");
        meter.CreateObservableGauge("ff_proxy_stream_health", () => new Measurement<int>(_streamConnected, new KeyValuePair<string, object?>("host", _host)),
            description: "1 while the SaaS account stream is connected");
        meter.CreateObservableGauge("ff_proxy_polling_status", () => new Measurement<int>(_polling, new KeyValuePair<string, object?>("host", _host)),
            description: "1 while the Primary polls SaaS because the account stream is down");
    }

    public void RecordRequest(string url, string envId, int statusCode, TimeSpan elapsed)
    {
        _requests.Add(1, new("url", url), new("envID", envId), new("code", statusCode.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        _duration.Record(elapsed.TotalSeconds, new("url", url), new("envID", envId));
    }

    public void RecordMetricsForwarded(string envId, bool error) =>
        _metricsForwarded.Add(1, new("envID", envId), new("error", error ? "true" : "false"));

    public void SetStreamConnected(bool connected)
    {
        _streamConnected = connected ? 1 : 0;
        _polling = connected ? 0 : 1;
    }
}

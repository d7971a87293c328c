using System.Diagnostics.Metrics;

namespace FfProxy.Primary.Saas;

/// <summary>
/// The Primary's SaaS-facing instruments of spec §7, under the Go proxy's names and labels (requests themselves are
/// counted by <see cref="FfProxy.Core.Saas.SaasRequestMetrics"/>; <c>ff_proxy_stream_health</c>, which every role
/// reports, by <see cref="FfProxy.Core.Sdk.ProxyMetrics"/>).
/// </summary>
internal sealed class SaasMetrics
{
    public const string MeterName = "FfProxy.Saas";

    private readonly Counter<long> _metricsForwarded;
    private readonly string _host = System.Environment.MachineName;
    private volatile int _polling;

    public SaasMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(MeterName);
        _metricsForwarded = meter.CreateCounter<long>("ff_proxy_metrics_forwarded", description: "Metrics batches forwarded to SaaS");
        meter.CreateObservableGauge("ff_proxy_polling_status", () => new Measurement<int>(_polling, new KeyValuePair<string, object?>("host", _host)),
            description: "1 while the Primary polls SaaS because the account stream is down");
    }

    public void RecordMetricsForwarded(string envId, bool error) =>
        _metricsForwarded.Add(1, new("envID", envId), new("error", error ? "true" : "false"));

    public void SetStreamConnected(bool connected)
    {
        _polling = connected ? 0 : 1;
    }
}

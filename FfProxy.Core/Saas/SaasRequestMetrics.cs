using System.Diagnostics.Metrics;
using System.Globalization;

namespace FfProxy.Core.Saas;

/// <summary>
/// Requests to the SaaS client service (spec §7), under the Go proxy's names and labels. Shared because both roles
/// may call it: the Primary for everything, a Replica only to forward targets.
/// </summary>
public sealed class SaasRequestMetrics
{
    public const string MeterName = "FfProxy.Saas.Requests";

    private static readonly double[] DurationBuckets = [0.05, 0.1, 0.25, 0.5, 0.75, 1];

    private readonly Counter<long> _requests;
    private readonly Histogram<double> _duration;

    public SaasRequestMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(MeterName);
        _requests = meter.CreateCounter<long>("ff_proxy_to_client_service_requests", description: "Requests from the proxy to the SaaS client service");
        _duration = meter.CreateHistogram("ff_proxy_to_ff_client_service_requests_duration", unit: null,
            description: "Duration of requests from the proxy to the SaaS client service", tags: null,
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = DurationBuckets });
    }

    /// <param name="statusCode">0 when no answer came.</param>
    public void Record(string url, string envId, int statusCode, TimeSpan elapsed)
    {
        _requests.Add(1, new("url", url), new("envID", envId), new("code", statusCode.ToString(CultureInfo.InvariantCulture)));
        _duration.Record(elapsed.TotalSeconds, new("url", url), new("envID", envId));
    }
}

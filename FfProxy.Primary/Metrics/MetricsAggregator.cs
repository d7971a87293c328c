using FfProxy.Core.Domain;

namespace FfProxy.Primary.Metrics;

/// <summary>What one environment accumulated since the last flush.</summary>
internal sealed record MetricsBatch(string Environment, IReadOnlyList<MetricsData> MetricsData, IReadOnlyList<TargetData> TargetData);

/// <summary>
/// The Primary's metrics queue (spec §3.7). Evaluation metrics are merged per environment: entries with the same
/// flag (featureIdentifier, else featureName), variationIdentifier, SDK_LANGUAGE and SDK_VERSION are one bucket
/// whose count is summed (saturating at 2³¹−1), keeping the first entry's attributes and timestamp. Targets are concatenated. Once
/// 1 MiB of payload has come in, from any source, <see cref="FlushRequested"/> fires so SaaS gets it at once.
/// </summary>
internal sealed class MetricsAggregator
{
    public const long FlushThresholdBytes = 1024 * 1024;

    private readonly Lock _gate = new();
    private Dictionary<string, Pending> _pending = new(StringComparer.Ordinal);
    private long _bytes;

    /// <summary>Raised (outside the lock) when the accumulated payload reached <see cref="FlushThresholdBytes"/>.</summary>
    public event Action? FlushRequested;

    public long PendingBytes
    {
        get { lock (_gate) { return _bytes; } }
    }

    public void Add(string environment, MetricsRequest metrics, long payloadBytes)
    {
        bool flush;
        lock (_gate)
        {
            if (!_pending.TryGetValue(environment, out var pending))
            {
                pending = new Pending();
                _pending[environment] = pending;
            }

            foreach (var entry in metrics.MetricsData ?? [])
            {
                var bucket = BucketKey.Of(entry);
                if (pending.Buckets.TryGetValue(bucket, out var index))
                {
                    var merged = pending.Metrics[index];
                    // Saturate: SaaS takes a 32-bit count, and a wrapped sum would report a negative number of evaluations.
                    pending.Metrics[index] = merged with { Count = (int)Math.Min((long)merged.Count + entry.Count, int.MaxValue) };
                }
                else
                {
                    pending.Buckets[bucket] = pending.Metrics.Count;
                    pending.Metrics.Add(entry);
                }
            }

            pending.Targets.AddRange(metrics.TargetData ?? []);
            _bytes += payloadBytes;
            flush = _bytes >= FlushThresholdBytes;
        }

        if (flush)
        {
            FlushRequested?.Invoke();
        }
    }

    /// <summary>Takes everything accumulated, one batch per environment, and starts over.</summary>
    public IReadOnlyList<MetricsBatch> Drain()
    {
        Dictionary<string, Pending> drained;
        lock (_gate)
        {
            drained = _pending;
            _pending = new Dictionary<string, Pending>(StringComparer.Ordinal);
            _bytes = 0;
        }

        return [.. drained.Where(p => p.Value.Metrics.Count > 0 || p.Value.Targets.Count > 0)
            .Select(p => new MetricsBatch(p.Key, p.Value.Metrics, p.Value.Targets))];
    }

    private sealed class Pending
    {
        public Dictionary<BucketKey, int> Buckets { get; } = [];
        public List<MetricsData> Metrics { get; } = [];
        public List<TargetData> Targets { get; } = [];
    }

    private readonly record struct BucketKey(string Flag, string Variation, string Language, string Version)
    {
        public static BucketKey Of(MetricsData entry)
        {
            string? identifier = null, name = null, variation = null, language = null, version = null;
            foreach (var attribute in entry.Attributes ?? [])
            {
                switch (attribute.Key)
                {
                    case "featureIdentifier": identifier ??= attribute.Value; break;
                    case "featureName": name ??= attribute.Value; break;
                    case "variationIdentifier": variation ??= attribute.Value; break;
                    case "SDK_LANGUAGE": language ??= attribute.Value; break;
                    case "SDK_VERSION": version ??= attribute.Value; break;
                }
            }

            return new BucketKey(string.IsNullOrEmpty(identifier) ? name ?? "" : identifier, variation ?? "", language ?? "", version ?? "");
        }
    }
}

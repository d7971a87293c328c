using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Runtime.CompilerServices;

namespace FfProxy.Core.Caching;

/// <summary>
/// The cache metrics of spec §7.2 around any store: <c>ff_proxy_{redis|in_mem}_cache_{write|read|delete|scan}_duration</c>
/// histograms and <c>…_{write|read|remove|scan}_count</c> counters with an <c>error</c> label (a miss is not an error).
/// </summary>
internal sealed class MeteredKeyValueStore : IKeyValueStore
{
    public const string MeterName = "FfProxy.Cache";

    private static readonly double[] Buckets = [0.01, 0.05, 0.1, 0.3, 0.5];

    private readonly IKeyValueStore _inner;
    private readonly Operation _read;
    private readonly Operation _write;
    private readonly Operation _delete;
    private readonly Operation _scan;

    public MeteredKeyValueStore(IKeyValueStore inner, IMeterFactory meterFactory)
    {
        _inner = inner;
        var meter = meterFactory.Create(MeterName);
        var prefix = $"ff_proxy_{inner.Kind}_cache_";
        _read = new Operation(meter, prefix + "read_duration", prefix + "read_count");
        _write = new Operation(meter, prefix + "write_duration", prefix + "write_count");
        _delete = new Operation(meter, prefix + "delete_duration", prefix + "remove_count");
        _scan = new Operation(meter, prefix + "scan_duration", prefix + "scan_count");
    }

    public string Kind => _inner.Kind;

    public Task<byte[]?> GetAsync(string key, CancellationToken cancellationToken) => _read.MeasureAsync(() => _inner.GetAsync(key, cancellationToken));

    public Task<byte[]?[]> GetManyAsync(IReadOnlyList<string> keys, CancellationToken cancellationToken) =>
        _read.MeasureAsync(() => _inner.GetManyAsync(keys, cancellationToken));

    public Task SetAsync(IReadOnlyCollection<KeyValuePair<string, ReadOnlyMemory<byte>>> entries, CancellationToken cancellationToken) =>
        _write.MeasureAsync(() => _inner.SetAsync(entries, cancellationToken));

    public Task SetAsync(string key, ReadOnlyMemory<byte> value, CancellationToken cancellationToken) =>
        _write.MeasureAsync(() => _inner.SetAsync(key, value, cancellationToken));

    public Task SetExpiringAsync(IReadOnlyCollection<KeyValuePair<string, byte[]>> entries, TimeSpan expiry, CancellationToken cancellationToken) =>
        _write.MeasureAsync(() => _inner.SetExpiringAsync(entries, expiry, cancellationToken));

    public Task DeleteAsync(IReadOnlyCollection<string> keys, CancellationToken cancellationToken) =>
        _delete.MeasureAsync(() => _inner.DeleteAsync(keys, cancellationToken));

    public async IAsyncEnumerable<string> ScanAsync(string prefix, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        var error = true;
        try
        {
            await foreach (var key in _inner.ScanAsync(prefix, cancellationToken).ConfigureAwait(false))
            {
                yield return key;
            }

            error = false;
        }
        finally
        {
            _scan.Record(started, error);
        }
    }

    public Task<bool> PingAsync(CancellationToken cancellationToken) => _inner.PingAsync(cancellationToken);

    private sealed class Operation(Meter meter, string durationName, string countName)
    {
        private readonly Histogram<double> _duration = meter.CreateHistogram(durationName, unit: null, description: null, tags: null,
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = Buckets });

        private readonly Counter<long> _count = meter.CreateCounter<long>(countName);

        public async Task<T> MeasureAsync<T>(Func<Task<T>> call)
        {
            var started = Stopwatch.GetTimestamp();
            var error = true;
            try
            {
                var result = await call().ConfigureAwait(false);
                error = false;
                return result;
            }
            finally
            {
                Record(started, error);
            }
        }

        public async Task MeasureAsync(Func<Task> call) => await MeasureAsync(async () =>
        {
            await call().ConfigureAwait(false);
            return true;
        }).ConfigureAwait(false);

        public void Record(long started, bool error)
        {
            _duration.Record(Stopwatch.GetElapsedTime(started).TotalSeconds);
            _count.Add(1, new KeyValuePair<string, object?>("error", error ? "true" : "false"));
        }
    }
}

using System.Collections.Concurrent;

namespace FfProxy.Bench.ScaleSaas;

/// <summary>Requests per route and when some things last happened (Unix milliseconds), for <c>GET /control/stats</c>.</summary>
public sealed class RouteStats(TimeProvider time)
{
    private readonly ConcurrentDictionary<string, long> _counts = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, long> _marks = new(StringComparer.Ordinal);

    public void Count(string route) => _counts.AddOrUpdate(route, 1, static (_, n) => n + 1);

    public void Mark(string what) => _marks[what] = time.GetUtcNow().ToUnixTimeMilliseconds();

    public SortedDictionary<string, long> Counts() => new(_counts, StringComparer.Ordinal);

    public SortedDictionary<string, long> Marks() => new(_marks, StringComparer.Ordinal);
}

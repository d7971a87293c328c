using Yarp.ReverseProxy.LoadBalancing;
using Yarp.ReverseProxy.Model;

namespace FfProxy.Gateway;

/// <summary>
/// Sends every request that carries the same <c>Authorization</c> header (one SDK's token) to the same upstream, by
/// rendezvous hashing over the available upstreams; requests without one (<c>/client/auth</c>, <c>/health</c>, CORS
/// preflights) go round-robin. Why: a Replica refreshes its snapshot before it sends <c>event: *</c> on its SDK
/// streams, and the SDK refetches at once with the same token, so the refetch reaches the Replica that already
/// holds the change. Without this, a refetch sent to a Replica that has not read the event yet returns the old
/// version and the SDK keeps it until the next change. Rendezvous hashing moves only the tokens of an upstream that
/// goes away or comes back, and the hash is fixed (not per-process) so several Gateways with the same upstream list
/// agree.
/// </summary>
internal sealed class SdkTokenAffinity : ILoadBalancingPolicy
{
    public const string PolicyName = "SdkTokenAffinity";

    private uint _next;

    public string Name => PolicyName;

    public DestinationState? PickDestination(HttpContext context, ClusterState cluster, IReadOnlyList<DestinationState> availableDestinations)
    {
        var count = availableDestinations.Count;
        if (count <= 1)
        {
            return count == 0 ? null : availableDestinations[0];
        }

        var authorization = context.Request.Headers.Authorization;
        if (authorization.Count == 0 || string.IsNullOrEmpty(authorization[0]))
        {
            return availableDestinations[(int)(Interlocked.Increment(ref _next) % (uint)count)];
        }

        var token = Fnv1a(authorization[0]);
        DestinationState? best = null;
        (ulong Upstream, ulong Address) bestScore = default;
        foreach (var destination in availableDestinations)
        {
            // Service discovery names a resolved destination "upstream-0[address]": rank by the configured upstream
            // (the same in every Gateway), then by the address among the ones that name resolved to.
            var id = destination.DestinationId;
            var bracket = id.IndexOf('[', StringComparison.Ordinal);
            var score = (Score(token, bracket < 0 ? id : id.AsSpan(0, bracket)), Score(token, id));
            if (best is null || score.CompareTo(bestScore) > 0)
            {
                best = destination;
                bestScore = score;
            }
        }

        return best;
    }

    /// <summary>
    /// The upstream (by <see cref="SdkRouting.DestinationId"/>) that requests with this <c>Authorization</c> header go
    /// to, when each upstream resolves to one address.
    /// </summary>
    public static string Pick(string authorization, IEnumerable<string> destinationIds)
    {
        var token = Fnv1a(authorization);
        return destinationIds.MaxBy(id => Score(token, id)) ?? throw new ArgumentException("no upstream", nameof(destinationIds));
    }

    private static ulong Score(ulong token, ReadOnlySpan<char> destinationId) => Mix(token ^ Fnv1a(destinationId));

    /// <summary>FNV-1a over the UTF-16 code units: stable across processes, unlike <see cref="string.GetHashCode()"/>.</summary>
    internal static ulong Fnv1a(ReadOnlySpan<char> text)
    {
        var hash = 14695981039346656037UL;
        foreach (var c in text)
        {
            hash = (hash ^ c) * 1099511628211UL;
        }

        return hash;
    }

    /// <summary>A 64-bit finaliser (SplitMix64) so that similar inputs give unrelated scores.</summary>
    private static ulong Mix(ulong value)
    {
        value = (value ^ (value >> 30)) * 0xBF58476D1CE4E5B9UL;
        value = (value ^ (value >> 27)) * 0x94D049BB133111EBUL;
        return value ^ (value >> 31);
    }
}

using FfProxy.Gateway;

namespace FfProxy.Tests.Fixtures;

/// <summary>
/// SDK tokens chosen by the upstream the Gateway routes them to (it sends all requests of one token to one upstream),
/// so a test can spread its SDKs over every Replica on purpose rather than by chance.
/// </summary>
public static class UpstreamTokens
{
    /// <summary>
    /// Authenticates distinct targets until it holds <paramref name="perUpstream"/> tokens for each of
    /// <paramref name="upstreams"/> upstreams; returns them ordered by upstream index.
    /// </summary>
    public static async Task<IReadOnlyList<(string Token, int Upstream)>> SpreadAsync(
        Func<string, Task<string>> authenticateTarget, int upstreams, int perUpstream)
    {
        var ids = Enumerable.Range(0, upstreams).Select(SdkRouting.DestinationId).ToArray();
        var found = new List<(string Token, int Upstream)>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(90);
        for (var i = 0; found.Count < upstreams * perUpstream; i++)
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new InvalidOperationException("tokens do not spread over the upstreams");
            }

            // A token carries no target and its issue time in seconds: within one second the same key gets the same one.
            var token = await authenticateTarget($"spread-{i}");
            if (!seen.Add(token))
            {
                await Task.Delay(100);
                continue;
            }

            var upstream = Array.IndexOf(ids, SdkTokenAffinity.Pick($"Bearer {token}", ids));
            if (found.Count(f => f.Upstream == upstream) < perUpstream)
            {
                found.Add((token, upstream));
            }
        }

        return found.OrderBy(f => f.Upstream).ToList();
    }
}

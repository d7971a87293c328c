using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;

namespace FfProxy.Bench.ScaleProbe;

/// <summary>
/// What a Replica serves, asked the way a server SDK asks: <c>/client/auth</c> with the environment's server SDK key
/// (once per environment; tokens are kept in a file across probe runs so later phases do not authenticate again),
/// then the flag and group routes.
/// </summary>
public sealed class ReplicaView(HttpClient http, string tokenFile)
{
    private readonly ConcurrentDictionary<string, string> _tokens = Load(tokenFile);

    private int _authentications;

    public int Authentications => Volatile.Read(ref _authentications);

    /// <summary>Authenticates every environment not yet known; returns those the Replica refused (not in Redis yet).</summary>
    public async Task<List<EnvironmentKeys>> AuthenticateAsync(IEnumerable<EnvironmentKeys> environments)
    {
        var refused = new ConcurrentBag<EnvironmentKeys>();
        await Parallel.ForEachAsync(environments.Where(e => !_tokens.ContainsKey(e.Id)), Parallel8, async (env, ct) =>
        {
            using var response = await http.PostAsJsonAsync("client/auth", new SdkAuthRequest(env.ServerKey), ProbeJsonContext.Default.SdkAuthRequest, ct);
            Interlocked.Increment(ref _authentications);
            if (!response.IsSuccessStatusCode)
            {
                refused.Add(env);
                return;
            }

            var body = await response.Content.ReadFromJsonAsync(ProbeJsonContext.Default.SdkAuthResponse, ct);
            _tokens[env.Id] = body!.AuthToken;
        });
        await File.WriteAllLinesAsync(tokenFile, _tokens.Select(t => t.Key + "\t" + t.Value));
        return [.. refused];
    }

    /// <summary>The flags this Replica does not serve at the expected version yet.</summary>
    public async Task<List<FlagChange>> BehindAsync(IReadOnlyList<FlagChange> expected)
    {
        var behind = new ConcurrentBag<FlagChange>();
        await Parallel.ForEachAsync(expected, Parallel8, async (change, ct) =>
        {
            var body = await GetAsync(change.Environment, $"client/env/{change.Environment}/feature-configs/{change.Flag}?cluster=1", ct);
            if (body is null || Json.Version(body) < change.Version)
            {
                behind.Add(change);
            }
        });
        return [.. behind];
    }

    /// <summary>The environments whose flag and group lists this Replica does not serve in full yet.</summary>
    public async Task<List<EnvironmentKeys>> IncompleteAsync(IReadOnlyList<EnvironmentKeys> environments, int flags, int groups)
    {
        var incomplete = new ConcurrentBag<EnvironmentKeys>(await AuthenticateAsync(environments));
        await Parallel.ForEachAsync(environments.Where(e => _tokens.ContainsKey(e.Id)), Parallel8, async (env, ct) =>
        {
            var flagList = await GetAsync(env.Id, $"client/env/{env.Id}/feature-configs?cluster=1", ct);
            var groupList = await GetAsync(env.Id, $"client/env/{env.Id}/target-segments?cluster=1&rules=v2", ct);
            if (flagList is null || groupList is null || Json.Length(flagList) != flags || Json.Length(groupList) != groups)
            {
                incomplete.Add(env);
            }
        });
        return [.. incomplete];
    }

    private static readonly ParallelOptions Parallel8 = new() { MaxDegreeOfParallelism = 8 };

    private async Task<byte[]?> GetAsync(string environment, string path, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", _tokens[environment]);
        using var response = await http.SendAsync(request, cancellationToken);
        return response.StatusCode == HttpStatusCode.OK ? await response.Content.ReadAsByteArrayAsync(cancellationToken) : null;
    }

    private static ConcurrentDictionary<string, string> Load(string file)
    {
        var tokens = new ConcurrentDictionary<string, string>(StringComparer.Ordinal);
        if (File.Exists(file))
        {
            foreach (var line in File.ReadLines(file))
            {
                var tab = line.IndexOf('\t', StringComparison.Ordinal);
                if (tab > 0)
                {
                    tokens[line[..tab]] = line[(tab + 1)..];
                }
            }
        }

        return tokens;
    }
}

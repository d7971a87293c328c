using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace FfProxy.Tests.Fakes;

/// <summary>
/// A scriptable Harness SaaS speaking spec §3 on a loopback Kestrel port: proxy keys and their tokens (claims
/// <c>cluster_identifier</c>, <c>account</c>, <c>environments</c>; access is granted by the token's claim, so new
/// environments need a new token), paged <c>/proxy/config</c>, per-item reads, the account SSE stream with
/// heartbeats and the §3.4 events, and metrics/target intake. Faults are switched on by properties.
/// This file holds its state and the scripting API; <c>FakeSaas.Routes.cs</c> the §3 routes, <c>FakeSaas.AccountStream.cs</c>
/// the account stream and its events, <c>FakeSaas.Faults.cs</c> the switchable faults.
/// </summary>
public sealed partial class FakeSaas : IAsyncDisposable
{
    public const string ApiPrefix = "/api/1.0";

    private readonly WebApplication _app;
    private readonly Lock _gate = new();
    private readonly Dictionary<string, SaasEnvironment> _environments = new(StringComparer.Ordinal);
    private readonly Dictionary<string, ProxyKey> _proxyKeys = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Issued> _tokens = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<RecordedRequest> _requests = new();

    private FakeSaas(WebApplication app)
    {
        _app = app;
    }

    public Uri ClientService { get; private set; } = null!;

    public Uri MetricService => ClientService;

    public string Account { get; } = "fake-account";

    /// <summary>Not the default "1", so tests see that the proxy uses the token's claim.</summary>
    public string ClusterIdentifier { get; set; } = "2";

    public IReadOnlyList<RecordedRequest> Requests => [.. _requests];

    public IReadOnlyList<RecordedRequest> MetricsPosts => [.. _requests.Where(r => r.Method == "POST" && r.Path.StartsWith(ApiPrefix + "/metrics/", StringComparison.Ordinal))];

    public IReadOnlyList<RecordedRequest> TargetAuths => [.. _requests.Where(r => r.Method == "POST" && r.Path == ApiPrefix + "/client/auth")];

    public static async Task<FakeSaas> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var fake = new FakeSaas(app);
        fake.Map(app);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        fake.ClientService = new Uri(address.TrimEnd('/') + ApiPrefix);
        return fake;
    }

    // ---- scripting -------------------------------------------------------------------------------------------

    public string CreateProxyKey(params string[] environments)
    {
        var key = "proxy-key-" + Guid.NewGuid().ToString("N");
        lock (_gate)
        {
            _proxyKeys[key] = new ProxyKey([.. environments]);
        }

        return key;
    }

    /// <summary>Changes what a key grants; connected streams of the key hear environmentsAdded / environmentsRemoved.</summary>
    public void SetProxyKeyEnvironments(string proxyKey, params string[] environments)
    {
        List<string> added, removed;
        lock (_gate)
        {
            var key = _proxyKeys[proxyKey];
            added = [.. environments.Except(key.Environments)];
            removed = [.. key.Environments.Except(environments)];
            key.Environments = [.. environments];
        }

        if (added.Count > 0)
        {
            SendToKey(proxyKey, ProxyEvent("environmentsAdded", added));
        }

        if (removed.Count > 0)
        {
            SendToKey(proxyKey, ProxyEvent("environmentsRemoved", removed));
        }
    }

    public void DeleteProxyKey(string proxyKey)
    {
        lock (_gate)
        {
            _proxyKeys.Remove(proxyKey);
            foreach (var token in _tokens.Where(t => t.Value.ProxyKey == proxyKey).Select(t => t.Key).ToList())
            {
                _tokens.Remove(token);
            }
        }

        SendToKey(proxyKey, new JsonObject { ["event"] = "proxyKeyDeleted", ["domain"] = "proxy" });
        foreach (var subscriber in _streams.Keys.Where(s => s.ProxyKey == proxyKey))
        {
            subscriber.Frames.Writer.TryComplete();
        }
    }

    /// <summary>Every token issued for the key stops working; the next use answers 401.</summary>
    public void InvalidateTokens(string proxyKey)
    {
        lock (_gate)
        {
            foreach (var token in _tokens.Where(t => t.Value.ProxyKey == proxyKey).Select(t => t.Key).ToList())
            {
                _tokens.Remove(token);
            }
        }
    }

    /// <summary>Creates an environment; keys that already list it hear environmentsAdded.</summary>
    public void AddEnvironment(string environment, IEnumerable<string>? sdkKeys = null, bool silent = false)
    {
        lock (_gate)
        {
            var env = new SaasEnvironment();
            foreach (var sdkKey in sdkKeys ?? [])
            {
                env.ApiKeys.Add(Hash(sdkKey));
            }

            _environments[environment] = env;
        }

        if (!silent)
        {
            SendToEnvironment(environment, ProxyEvent("environmentsAdded", [environment]));
        }
    }

    /// <summary>Deletes an environment; keys that granted it lose it and hear environmentsRemoved.</summary>
    public void RemoveEnvironment(string environment, bool silent = false)
    {
        if (!silent)
        {
            SendToEnvironment(environment, ProxyEvent("environmentsRemoved", [environment]));
        }

        lock (_gate)
        {
            _environments.Remove(environment);
            foreach (var key in _proxyKeys.Values)
            {
                key.Environments.Remove(environment);
            }
        }
    }

    /// <summary>Adds an SDK key (stored as its SHA-256 hex, as SaaS sends it); returns the hash.</summary>
    public string AddSdkKey(string environment, string sdkKey, bool silent = false)
    {
        var hash = Hash(sdkKey);
        lock (_gate)
        {
            _environments[environment].ApiKeys.Add(hash);
        }

        if (!silent)
        {
            SendToEnvironment(environment, ProxyEvent("apiKeyAdded", [environment], hash));
        }

        return hash;
    }

    public void RemoveSdkKey(string environment, string sdkKey, bool silent = false)
    {
        var hash = Hash(sdkKey);
        lock (_gate)
        {
            _environments[environment].ApiKeys.Remove(hash);
        }

        if (!silent)
        {
            SendToEnvironment(environment, ProxyEvent("apiKeyRemoved", [environment], hash));
        }
    }

    /// <summary>Creates or updates a flag (by "feature"); the version goes up by one, or to the JSON's if higher.</summary>
    public long SetFlag(string environment, string featureConfigJson, bool silent = false) =>
        SetItem(environment, featureConfigJson, "feature", "flag", e => e.Flags, silent);

    public void DeleteFlag(string environment, string feature, bool silent = false) =>
        DeleteItem(environment, feature, "flag", e => e.Flags, silent);

    public long SetSegment(string environment, string segmentJson, bool silent = false) =>
        SetItem(environment, segmentJson, "identifier", "target-segment", e => e.Segments, silent);

    public void DeleteSegment(string environment, string identifier, bool silent = false) =>
        DeleteItem(environment, identifier, "target-segment", e => e.Segments, silent);

    public void ClearRequests() => _requests.Clear();

    /// <summary>A valid boolean FeatureConfig (spec §2.6).</summary>
    public static string Flag(string feature, bool on = true, string serve = "true", long version = 1, string environment = "env") => $$"""
        {"project":"proj","environment":"{{environment}}","feature":"{{feature}}","kind":"boolean","state":"{{(on ? "on" : "off")}}",
         "variations":[{"identifier":"true","name":"True","value":"true"},{"identifier":"false","name":"False","value":"false"}],
         "defaultServe":{"variation":"{{serve}}"},"offVariation":"false","rules":[],"prerequisites":[],"variationToTargetMap":null,"version":{{version}}}
        """;

    /// <summary>A valid Segment (spec §2.8) including the given target identifiers.</summary>
    public static string Segment(string identifier, string[]? included = null, long version = 1, string environment = "env")
    {
        var targets = new JsonArray([.. (included ?? []).Select(t => (JsonNode)new JsonObject
        {
            ["identifier"] = t, ["name"] = t, ["account"] = "", ["org"] = "", ["environment"] = "", ["project"] = "", ["anonymous"] = false, ["attributes"] = new JsonObject(),
        })]);
        return new JsonObject
        {
            ["identifier"] = identifier, ["name"] = identifier, ["environment"] = environment, ["included"] = targets, ["excluded"] = new JsonArray(),
            ["rules"] = new JsonArray(), ["version"] = version, ["createdAt"] = 1, ["modifiedAt"] = 2,
        }.ToJsonString();
    }

    public static string Hash(string sdkKey) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(sdkKey)));

    public async ValueTask DisposeAsync()
    {
        DropStreams();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    private long SetItem(string environment, string json, string idField, string domain, Func<SaasEnvironment, Dictionary<string, JsonObject>> items, bool silent)
    {
        var item = JsonNode.Parse(json)!.AsObject();
        var id = item[idField]!.GetValue<string>();
        bool created;
        long version;
        lock (_gate)
        {
            var all = items(_environments[environment]);
            created = !all.TryGetValue(id, out var previous);
            var given = item["version"]?.GetValue<long>() ?? 0;
            version = Math.Max(given, (previous?["version"]?.GetValue<long>() ?? 0) + 1);
            item["version"] = version;
            item["environment"] = environment;
            all[id] = item;
        }

        if (!silent)
        {
            SendToEnvironment(environment, ItemEvent(created ? "create" : "patch", domain, id, version, environment));
        }

        return version;
    }

    private void DeleteItem(string environment, string id, string domain, Func<SaasEnvironment, Dictionary<string, JsonObject>> items, bool silent)
    {
        long version;
        lock (_gate)
        {
            var all = items(_environments[environment]);
            version = all.TryGetValue(id, out var previous) ? (previous["version"]?.GetValue<long>() ?? 0) + 1 : 0;
            all.Remove(id);
        }

        if (!silent)
        {
            SendToEnvironment(environment, ItemEvent("delete", domain, id, version, environment));
        }
    }

    private sealed class SaasEnvironment
    {
        public HashSet<string> ApiKeys { get; } = new(StringComparer.Ordinal);
        public Dictionary<string, JsonObject> Flags { get; } = new(StringComparer.Ordinal);
        public Dictionary<string, JsonObject> Segments { get; } = new(StringComparer.Ordinal);
    }

    private sealed class ProxyKey(List<string> environments)
    {
        public List<string> Environments { get; set; } = environments;
    }

    private sealed record Issued(string ProxyKey, List<string> Environments);
}

using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace FfProxy.Tests.Fakes;

/// <summary>A request the fake received, for tests to check what the proxy sent.</summary>
public sealed record RecordedRequest(string Method, string Path, string Query, IReadOnlyDictionary<string, string> Headers, byte[] Body)
{
    public string Header(string name) => Headers.TryGetValue(name, out var value) ? value : "";

    public string QueryValue(string name) =>
        Microsoft.AspNetCore.WebUtilities.QueryHelpers.ParseQuery(Query).TryGetValue(name, out var values) ? values.ToString() : "";

    public JsonNode? Json => Body.Length == 0 ? null : JsonNode.Parse(Body);
}

/// <summary>
/// A scriptable Harness SaaS speaking spec §3 on a loopback Kestrel port: proxy keys and their tokens (claims
/// <c>cluster_identifier</c>, <c>account</c>, <c>environments</c>; access is granted by the token's claim, so new
/// environments need a new token), paged <c>/proxy/config</c>, per-item reads, the account SSE stream with
/// heartbeats and the §3.4 events, and metrics/target intake. Faults are switched on by properties.
/// </summary>
public sealed class FakeSaas : IAsyncDisposable
{
    public const string ApiPrefix = "/api/1.0";

    private static readonly byte[] SigningKey = Encoding.UTF8.GetBytes("fake-saas-signing-key-for-proxy-tokens");

    private readonly WebApplication _app;
    private readonly Lock _gate = new();
    private readonly Dictionary<string, SaasEnvironment> _environments = new(StringComparer.Ordinal);
    private readonly Dictionary<string, ProxyKey> _proxyKeys = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Issued> _tokens = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<Subscriber, byte> _streams = new();
    private readonly ConcurrentQueue<RecordedRequest> _requests = new();
    private int _itemFailuresRemaining;

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

    public int OpenStreams => _streams.Count;

    public bool RefuseStreams { get; set; }

    public HttpStatusCode? FailAuthWith { get; set; }

    public HttpStatusCode? FailConfigWith { get; set; }

    /// <summary>Per-item reads answer this status (all of them) while set.</summary>
    public HttpStatusCode? FailItemWith { get; set; }

    /// <summary>The next N per-item reads answer 404, as a lagging SaaS read replica does.</summary>
    public int ItemFailuresRemaining
    {
        get => Volatile.Read(ref _itemFailuresRemaining);
        set => Volatile.Write(ref _itemFailuresRemaining, value);
    }

    public HttpStatusCode? FailMetricsWith { get; set; }

    public TimeSpan Delay { get; set; }

    /// <summary>Extra wait before every <c>/proxy/config</c> answer (a slow configuration fetch).</summary>
    public TimeSpan ConfigDelay { get; set; }

    /// <summary>While set, <c>/proxy/config</c> replies announce a longer body than they send and the connection is cut mid-body.</summary>
    public bool CutConfigReplies { get; set; }

    /// <summary>While set, every connection is dropped before an answer (SaaS unreachable).</summary>
    public bool DropConnections { get; set; }

    public TimeSpan HeartbeatInterval { get; set; } = TimeSpan.FromSeconds(1);

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

    /// <summary>Ends every open account stream cleanly (EOF), as a SaaS deploy does.</summary>
    public void DropStreams()
    {
        foreach (var subscriber in _streams.Keys)
        {
            subscriber.Frames.Writer.TryComplete();
        }
    }

    public void ClearRequests() => _requests.Clear();

    public async Task WaitForStreamAsync(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!_streams.Keys.Any(s => s.Started))
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException("no account stream was opened");
            }

            await Task.Delay(20);
        }
    }

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

    // ---- protocol --------------------------------------------------------------------------------------------

    private void Map(WebApplication app)
    {
        app.Use(async (context, next) =>
        {
            context.Request.EnableBuffering();
            using var body = new MemoryStream();
            await context.Request.Body.CopyToAsync(body);
            context.Request.Body.Position = 0;
            _requests.Enqueue(new RecordedRequest(
                context.Request.Method,
                context.Request.Path.Value ?? "",
                context.Request.QueryString.Value ?? "",
                context.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase),
                body.ToArray()));
            if (DropConnections)
            {
                context.Abort();
                return;
            }

            if (Delay > TimeSpan.Zero && !context.Request.Path.Value!.EndsWith("/stream", StringComparison.Ordinal))
            {
                await Task.Delay(Delay, context.RequestAborted);
            }

            if (ConfigDelay > TimeSpan.Zero && context.Request.Path.Value!.EndsWith("/proxy/config", StringComparison.Ordinal))
            {
                await Task.Delay(ConfigDelay, context.RequestAborted);
            }

            if (CutConfigReplies && context.Request.Path.Value!.EndsWith("/proxy/config", StringComparison.Ordinal))
            {
                context.Response.ContentType = "application/json";
                context.Response.ContentLength = 4096;
                await context.Response.WriteAsync("""{"environments":[{"id":""", context.RequestAborted);
                await context.Response.Body.FlushAsync(context.RequestAborted);

                // Let the headers and the first bytes reach the proxy before the connection goes.
                await Task.Delay(100, context.RequestAborted);
                context.Abort();
                return;
            }

            await next(context);
        });

        var api = app.MapGroup(ApiPrefix);
        api.MapPost("/proxy/auth", (Delegate)Authenticate);
        api.MapGet("/proxy/config", (Delegate)ProxyConfig);
        api.MapGet("/stream", (Delegate)Stream);
        api.MapGet("/client/env/{env}/feature-configs", (HttpContext c, string env) => Items(c, env, null, e => e.Flags));
        api.MapGet("/client/env/{env}/feature-configs/{id}", (HttpContext c, string env, string id) => Items(c, env, id, e => e.Flags));
        api.MapGet("/client/env/{env}/target-segments", (HttpContext c, string env) => Items(c, env, null, e => e.Segments));
        api.MapGet("/client/env/{env}/target-segments/{id}", (HttpContext c, string env, string id) => Items(c, env, id, e => e.Segments));
        api.MapPost("/metrics/{env}", (HttpContext c, string env) => Metrics(c, env));
        api.MapPost("/client/auth", () => Results.Json(new { authToken = "sdk-token-from-fake-saas" }));
    }

    private async Task<IResult> Authenticate(HttpContext context)
    {
        if (FailAuthWith is { } failure)
        {
            return Results.StatusCode((int)failure);
        }

        using var body = await JsonDocument.ParseAsync(context.Request.Body);
        var proxyKey = body.RootElement.TryGetProperty("proxyKey", out var value) ? value.GetString() ?? "" : "";
        lock (_gate)
        {
            if (!_proxyKeys.TryGetValue(proxyKey, out var key))
            {
                return Results.Json(new { message = "invalid key" }, statusCode: 401);
            }

            var granted = key.Environments.ToList();
            var token = IssueToken(proxyKey, granted);
            _tokens[token] = new Issued(proxyKey, granted);
            return Results.Json(new { authToken = token });
        }
    }

    private IResult ProxyConfig(HttpContext context)
    {
        if (FailConfigWith is { } failure)
        {
            return Results.StatusCode((int)failure);
        }

        if (Authorize(context) is not { } issued)
        {
            return Results.StatusCode(401);
        }

        var query = context.Request.Query;
        if (query["key"] != issued.ProxyKey || query["cluster"] != ClusterIdentifier)
        {
            return Results.Json(new { message = "key or cluster does not match the token" }, statusCode: 400);
        }

        var pageSize = int.TryParse(query["pageSize"], out var size) && size > 0 ? size : 10;
        var pageNumber = int.TryParse(query["pageNumber"], out var number) ? number : 0;
        string? only = query["environment"];
        lock (_gate)
        {
            var granted = issued.Environments.Where(_environments.ContainsKey).Where(e => only is null || e == only).Order(StringComparer.Ordinal).ToList();
            if (only is not null && granted.Count == 0)
            {
                return Results.Json(new { message = "environment not granted" }, statusCode: 403);
            }

            var page = granted.Skip(pageNumber * pageSize).Take(pageSize).Select(id =>
            {
                var env = _environments[id];
                return new JsonObject
                {
                    ["id"] = id,
                    ["apiKeys"] = new JsonArray([.. env.ApiKeys.Order(StringComparer.Ordinal).Select(k => (JsonNode)k)]),
                    ["featureConfigs"] = new JsonArray([.. env.Flags.Values.Select(f => f.DeepClone())]),
                    ["segments"] = new JsonArray([.. env.Segments.Values.Select(s => s.DeepClone())]),
                };
            }).ToList();
            var result = new JsonObject
            {
                ["itemCount"] = granted.Count,
                ["pageCount"] = (granted.Count + pageSize - 1) / pageSize,
                ["pageIndex"] = pageNumber,
                ["pageSize"] = pageSize,
                ["environments"] = new JsonArray([.. page]),
            };
            return Results.Content(result.ToJsonString(), "application/json");
        }
    }

    private async Task Stream(HttpContext context)
    {
        var issued = Authorize(context);
        if (issued is null || context.Request.Headers["API-Key"] != issued.ProxyKey || context.Request.Headers["Harness-AccountID"] != Account)
        {
            context.Response.StatusCode = 401;
            return;
        }

        if (RefuseStreams)
        {
            context.Response.StatusCode = 503;
            return;
        }

        var subscriber = new Subscriber(issued.ProxyKey);
        _streams.TryAdd(subscriber, 0);
        try
        {
            context.Response.ContentType = "text/event-stream";
            context.Response.Headers.CacheControl = "no-cache";
            var aborted = context.RequestAborted;
            await context.Response.WriteAsync(":\n\n", aborted);
            await context.Response.Body.FlushAsync(aborted);
            subscriber.Started = true;
            while (!aborted.IsCancellationRequested)
            {
                using var heartbeat = CancellationTokenSource.CreateLinkedTokenSource(aborted);
                heartbeat.CancelAfter(HeartbeatInterval);
                string frame;
                try
                {
                    if (!await subscriber.Frames.Reader.WaitToReadAsync(heartbeat.Token))
                    {
                        return; // dropped: a clean end of the stream
                    }

                    frame = await subscriber.Frames.Reader.ReadAsync(heartbeat.Token);
                }
                catch (OperationCanceledException) when (!aborted.IsCancellationRequested)
                {
                    frame = ":\n\n";
                }

                await context.Response.WriteAsync(frame, aborted);
                await context.Response.Body.FlushAsync(aborted);
            }
        }
        catch (OperationCanceledException)
        {
            // The proxy went away.
        }
        finally
        {
            _streams.TryRemove(subscriber, out _);
        }
    }

    private IResult Items(HttpContext context, string environment, string? identifier, Func<SaasEnvironment, Dictionary<string, JsonObject>> items)
    {
        if (Authorize(context) is not { } issued)
        {
            return Results.StatusCode(401);
        }

        if (!issued.Environments.Contains(environment) || context.Request.Query["cluster"] != ClusterIdentifier)
        {
            return Results.StatusCode(403);
        }

        if (identifier is not null)
        {
            if (FailItemWith is { } failure)
            {
                return Results.StatusCode((int)failure);
            }

            if (Interlocked.Decrement(ref _itemFailuresRemaining) >= 0)
            {
                return Results.StatusCode(404);
            }

            Interlocked.Exchange(ref _itemFailuresRemaining, 0);
        }

        lock (_gate)
        {
            if (!_environments.TryGetValue(environment, out var env))
            {
                return Results.StatusCode(404);
            }

            var all = items(env);
            if (identifier is null)
            {
                return Results.Content(new JsonArray([.. all.Values.Select(i => i.DeepClone())]).ToJsonString(), "application/json");
            }

            return all.TryGetValue(identifier, out var item) ? Results.Content(item.ToJsonString(), "application/json") : Results.StatusCode(404);
        }
    }

    private IResult Metrics(HttpContext context, string environment)
    {
        if (Authorize(context) is null)
        {
            return Results.StatusCode(401);
        }

        return FailMetricsWith is { } failure ? Results.StatusCode((int)failure) : Results.Ok();
    }

    private Issued? Authorize(HttpContext context)
    {
        var header = context.Request.Headers.Authorization.ToString();
        if (!header.StartsWith("Bearer ", StringComparison.Ordinal))
        {
            return null;
        }

        lock (_gate)
        {
            return _tokens.TryGetValue(header[7..], out var issued) && _proxyKeys.ContainsKey(issued.ProxyKey) ? issued : null;
        }
    }

    private string IssueToken(string proxyKey, List<string> environments)
    {
        var header = Base64Url("""{"alg":"HS256","typ":"JWT"}"""u8.ToArray());
        var claims = new JsonObject
        {
            ["cluster_identifier"] = ClusterIdentifier,
            ["account"] = Account,
            ["organization"] = "fake-org",
            ["key_type"] = "Proxy",
            ["key"] = Hash(proxyKey),
            ["environments"] = new JsonArray([.. environments.Select(e => (JsonNode)e)]),
            ["jti"] = Guid.NewGuid().ToString("N"),
        };
        var payload = Base64Url(Encoding.UTF8.GetBytes(claims.ToJsonString()));
        var signature = Base64Url(HMACSHA256.HashData(SigningKey, Encoding.ASCII.GetBytes(header + "." + payload)));
        return $"{header}.{payload}.{signature}";
    }

    private static string Base64Url(byte[] bytes) => System.Buffers.Text.Base64Url.EncodeToString(bytes);

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

    private static JsonObject ItemEvent(string @event, string domain, string id, long version, string environment) => new()
    {
        ["event"] = @event,
        ["domain"] = domain,
        ["identifier"] = id,
        ["version"] = version,
        ["environment"] = environment,
    };

    private static JsonObject ProxyEvent(string @event, List<string> environments, string? apiKey = null)
    {
        var message = new JsonObject
        {
            ["event"] = @event,
            ["domain"] = "proxy",
            ["environments"] = new JsonArray([.. environments.Select(e => (JsonNode)e)]),
        };
        if (apiKey is not null)
        {
            message["apiKey"] = apiKey;
        }

        return message;
    }

    private void SendToEnvironment(string environment, JsonObject message)
    {
        List<string> keys;
        lock (_gate)
        {
            keys = [.. _proxyKeys.Where(k => k.Value.Environments.Contains(environment)).Select(k => k.Key)];
        }

        foreach (var key in keys)
        {
            SendToKey(key, message);
        }
    }

    private void SendToKey(string proxyKey, JsonObject message)
    {
        var frame = "event: *\ndata: " + message.ToJsonString() + "\n\n";
        foreach (var subscriber in _streams.Keys.Where(s => s.ProxyKey == proxyKey))
        {
            subscriber.Frames.Writer.TryWrite(frame);
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

    private sealed class Subscriber(string proxyKey)
    {
        public string ProxyKey { get; } = proxyKey;
        public Channel<string> Frames { get; } = Channel.CreateUnbounded<string>();
        public bool Started { get; set; }
    }
}

using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace FfProxy.Tests.Fakes;

/// <summary>The §3 routes: proxy auth and tokens, paged <c>/proxy/config</c>, per-item reads, metrics and target intake; every request is recorded.</summary>
public sealed partial class FakeSaas
{
    private static readonly byte[] SigningKey = Encoding.UTF8.GetBytes("fake-saas-signing-key-for-proxy-tokens");

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
            if (await AnswerWithFaultAsync(context))
            {
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

        if (Interlocked.Decrement(ref _configFailuresRemaining) >= 0)
        {
            return Results.StatusCode(500);
        }

        Interlocked.Exchange(ref _configFailuresRemaining, 0);

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
        if (pageNumber >= FailConfigPagesFrom)
        {
            return Results.StatusCode(500);
        }

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
}

using System.Buffers;
using System.Text.Json;

namespace FfProxy.Bench.ScaleSaas;

/// <summary>
/// The routes of Harness SaaS the Primary calls (spec §3): <c>/proxy/auth</c>, paged <c>/proxy/config</c>, the
/// per-environment and per-item reads, the account stream, metrics and target intake. One Proxy Key, granted every
/// environment of the account. Every answer is copied from bytes written in advance.
/// </summary>
public sealed class SaasApi(Account account, ProxyTokens tokens, EventStreams stream, RouteStats stats, string proxyKey)
{
    public const string Prefix = "/api/1.0";
    public const int DefaultPageSize = 10;

    public void Map(WebApplication app)
    {
        var api = app.MapGroup(Prefix);
        api.MapPost("/proxy/auth", AuthenticateAsync);
        api.MapGet("/proxy/config", ConfigAsync);
        api.MapGet("/stream", StreamAsync);
        api.MapGet("/client/env/{env}/feature-configs", (HttpContext c, string env) => ItemAsync(c, env, "feature-configs", () => account.FlagList(env)));
        api.MapGet("/client/env/{env}/feature-configs/{id}", (HttpContext c, string env, string id) => ItemAsync(c, env, "feature-config", () => account.Flag(env, id)));
        api.MapGet("/client/env/{env}/target-segments", (HttpContext c, string env) => ItemAsync(c, env, "target-segments", () => account.GroupList(env)));
        api.MapGet("/client/env/{env}/target-segments/{id}", (HttpContext c, string env, string id) => ItemAsync(c, env, "target-segment", () => account.Group(env, id)));
        api.MapPost("/metrics/{env}", (HttpContext c) =>
        {
            stats.Count("metrics");
            return tokens.Authorize(c) is null ? Results.StatusCode(401) : Results.Ok();
        });
        api.MapPost("/client/auth", () =>
        {
            stats.Count("client-auth");
            return Results.Ok();
        });
    }

    private async Task AuthenticateAsync(HttpContext context)
    {
        stats.Count("auth");
        var request = await JsonSerializer.DeserializeAsync(context.Request.Body, ScaleJsonContext.Default.AuthRequest, context.RequestAborted);
        if (request?.ProxyKey != proxyKey)
        {
            context.Response.StatusCode = 401;
            return;
        }

        var token = tokens.Issue(proxyKey, [.. account.Environments().Select(e => e.Id)]);
        await context.Response.WriteAsJsonAsync(new AuthResponse(token), ScaleJsonContext.Default.AuthResponse, contentType: null, context.RequestAborted);
    }

    /// <summary>The account stream takes the token, the raw key in <c>API-Key</c> and the token's account (spec §3.1).</summary>
    private Task StreamAsync(HttpContext context)
    {
        if (tokens.Authorize(context) is null || context.Request.Headers["API-Key"] != proxyKey
            || context.Request.Headers["Harness-AccountID"] != tokens.Account)
        {
            stats.Count("stream-unauthorized");
            context.Response.StatusCode = 401;
            return Task.CompletedTask;
        }

        return stream.ServeAsync(context);
    }

    private async Task ConfigAsync(HttpContext context)
    {
        var grant = tokens.Authorize(context);
        if (grant is null)
        {
            stats.Count("config-unauthorized");
            context.Response.StatusCode = 401;
            return;
        }

        var query = context.Request.Query;
        if (query["key"] != proxyKey || query["cluster"] != tokens.Cluster)
        {
            stats.Count("config-bad-request");
            context.Response.StatusCode = 400;
            return;
        }

        var pageSize = int.TryParse(query["pageSize"], out var size) && size > 0 ? size : DefaultPageSize;
        var pageNumber = int.TryParse(query["pageNumber"], out var number) && number >= 0 ? number : 0;
        string? only = query["environment"];
        var granted = only is null
            ? grant.Environments.Where(account.Exists).ToList()
            : grant.Set.Contains(only) && account.Exists(only) ? [only] : [];
        if (only is not null && granted.Count == 0)
        {
            stats.Count("config-forbidden");
            context.Response.StatusCode = 403;
            return;
        }

        var pageCount = Math.Max(1, (granted.Count + pageSize - 1) / pageSize);

        // A full re-sync is a walk over every page of the account: its first and last page mark its start and end.
        var scope = only is null ? "config" : "config-environment";
        stats.Count(scope);
        if (only is null && pageNumber == 0)
        {
            stats.Count("config-first-page");
            stats.Mark("config-first-page");
        }

        if (only is null && pageNumber == pageCount - 1)
        {
            stats.Count("config-last-page");
            stats.Mark("config-last-page");
        }

        var entries = account.ConfigEntries(granted.Skip(pageNumber * pageSize).Take(pageSize));
        context.Response.ContentType = "application/json";
        var body = context.Response.BodyWriter;
        body.Write(System.Text.Encoding.UTF8.GetBytes(
            $"{{\"itemCount\":{granted.Count},\"pageCount\":{pageCount},\"pageIndex\":{pageNumber},\"pageSize\":{pageSize},\"environments\":["));
        for (var i = 0; i < entries.Count; i++)
        {
            if (i > 0)
            {
                body.Write(","u8);
            }

            body.Write(entries[i]);
        }

        body.Write("]}"u8);
        await body.FlushAsync(context.RequestAborted);
    }

    private async Task ItemAsync(HttpContext context, string environment, string route, Func<byte[]?> read)
    {
        stats.Count(route);
        var grant = tokens.Authorize(context);
        if (grant is null)
        {
            context.Response.StatusCode = 401;
            return;
        }

        if (!grant.Set.Contains(environment) || context.Request.Query["cluster"] != tokens.Cluster)
        {
            stats.Count(route + "-forbidden");
            context.Response.StatusCode = 403;
            return;
        }

        var json = read();
        if (json is null)
        {
            stats.Count(route + "-not-found");
            context.Response.StatusCode = 404;
            return;
        }

        stats.Mark(route);
        context.Response.ContentType = "application/json";
        await context.Response.Body.WriteAsync(json, context.RequestAborted);
    }
}

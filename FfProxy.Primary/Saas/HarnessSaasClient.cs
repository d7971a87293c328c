using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using FfProxy.Core;
using FfProxy.Primary.ConfigStore;
using FfProxy.Core.Configuration;
using FfProxy.Core.Domain;
using FfProxy.Core.Saas;
using Microsoft.Extensions.Options;

namespace FfProxy.Primary.Saas;

/// <summary>A SaaS request answered with something other than success; <see cref="StatusCode"/> is null when none came.</summary>
internal sealed class SaasRequestException(string message, HttpStatusCode? statusCode = null, Exception? inner = null) : Exception(message, inner)
{
    public HttpStatusCode? StatusCode { get; } = statusCode;
}

/// <summary>
/// The Primary's requests to Harness SaaS (spec §3.1–§3.3, §3.7; target forwarding, §3.8, is shared with Replicas).
/// Resilience (timeouts, retries with jitter on transient failures, never on other 4xx) comes from the pipeline on
/// the named HttpClient.
/// </summary>
internal sealed partial class HarnessSaasClient(
    IHttpClientFactory httpClients,
    ProxyOptions options,
    IOptions<SaasTimings> timings,
    SaasRequestMetrics metrics,
    TimeProvider time,
    ILogger<HarnessSaasClient> logger)
{
    public const string HttpClientName = "saas";

    /// <summary>For posts that must not be repeated (metrics: a retried batch could be counted twice).</summary>
    public const string NoRetryHttpClientName = "saas-no-retry";
    public const int PageSize = 10;

    private static readonly JsonDocumentOptions DocumentOptions = new() { AllowTrailingCommas = true };

    /// <summary>Value of <c>Harness-SDK-Info</c>.</summary>
    public static string SdkInfo { get; } = "Proxy " + ProxyVersion.Current;

    /// <summary><c>POST /proxy/auth</c>: exchanges the Proxy Key for a token.</summary>
    public async Task<ProxyToken> AuthenticateAsync(CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, ClientUri("/proxy/auth"));
        var body = new MemoryStream();
        using (var writer = new Utf8JsonWriter(body))
        {
            writer.WriteStartObject();
            writer.WriteString("proxyKey", options.ProxyKey);
            writer.WriteEndObject();
        }

        request.Content = new ByteArrayContent(body.ToArray()) { Headers = { ContentType = new MediaTypeHeaderValue("application/json") } };
        using var document = await SendForJsonAsync(request, "/proxy/auth", "", cancellationToken).ConfigureAwait(false);
        if (document.RootElement.ValueKind != JsonValueKind.Object
            || !document.RootElement.TryGetProperty("authToken", out var token) || token.ValueKind != JsonValueKind.String
            || string.IsNullOrEmpty(token.GetString()))
        {
            throw new SaasRequestException("SaaS /proxy/auth answered without an authToken");
        }

        return ProxyToken.Parse(token.GetString()!);
    }

    /// <summary>
    /// Paged <c>GET /proxy/config</c>, all pages at once: every environment the Proxy Key grants, or only
    /// <paramref name="environment"/>. Any failed page fails the whole fetch.
    /// </summary>
    public async Task<ProxyConfig> GetProxyConfigAsync(ProxyToken token, string? environment, CancellationToken cancellationToken)
    {
        var environments = new List<EnvironmentConfig>();
        var problems = new List<string>();
        await foreach (var page in GetProxyConfigPagesAsync(token, environment, held: null, cancellationToken).ConfigureAwait(false))
        {
            environments.AddRange(page.Environments);
            problems.AddRange(page.Problems);
        }

        return new ProxyConfig(environments, problems);
    }

    /// <summary>
    /// Paged <c>GET /proxy/config</c>, one page at a time, so a caller can write each page and let it go before the
    /// next (a whole account held beside the one in memory would double the Primary's memory during a re-sync).
    /// A failed page ends the enumeration with a <see cref="SaasRequestException"/>. The 5-minute deadline of the
    /// paging operation covers every page, the caller's time between pages included. An item that is byte for byte
    /// the one <paramref name="held"/> holds for its environment is that item (see <see cref="ConfigItem.IsExactly"/>).
    /// </summary>
    public async IAsyncEnumerable<ProxyConfig> GetProxyConfigPagesAsync(
        ProxyToken token, string? environment, IReadOnlyDictionary<string, EnvironmentConfig>? held,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var deadline = new CancellationTokenSource(timings.Value.ConfigFetchTimeout, time);
        using var either = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token);
        for (var page = 0; ; page++)
        {
            var (config, pageCount) = await FetchPageAsync(token, environment, page, held, either.Token, cancellationToken).ConfigureAwait(false);
            yield return config;
            if (page >= pageCount - 1)
            {
                yield break;
            }
        }
    }

    private async Task<(ProxyConfig Page, int PageCount)> FetchPageAsync(
        ProxyToken token, string? environment, int page, IReadOnlyDictionary<string, EnvironmentConfig>? held,
        CancellationToken withDeadline, CancellationToken cancellationToken)
    {
        try
        {
            // Keys in alphabetical order, as the Go client sends them.
            var query = new StringBuilder("?cluster=").Append(Uri.EscapeDataString(token.ClusterIdentifier));
            if (environment is not null)
            {
                query.Append("&environment=").Append(Uri.EscapeDataString(environment));
            }

            query.Append("&key=").Append(Uri.EscapeDataString(options.ProxyKey))
                .Append("&pageNumber=").Append(page)
                .Append("&pageSize=").Append(PageSize);
            using var request = new HttpRequestMessage(HttpMethod.Get, ClientUri("/proxy/config" + query));
            request.Headers.TryAddWithoutValidation("Authorization", token.AuthorizationHeader);
            using var document = await SendForJsonAsync(request, "/proxy/config", environment ?? "", withDeadline).ConfigureAwait(false);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new SaasRequestException("SaaS /proxy/config answered with something other than a JSON object");
            }

            var environments = new List<EnvironmentConfig>();
            var problems = new List<string>();
            if (root.TryGetProperty("environments", out var envs) && envs.ValueKind == JsonValueKind.Array)
            {
                foreach (var env in envs.EnumerateArray())
                {
                    if (ReadEnvironment(env, held, problems) is { } config)
                    {
                        environments.Add(config);
                    }
                }
            }

            var pageCount = root.TryGetProperty("pageCount", out var count) && count.TryGetInt32(out var n) ? n : 1;
            return (new ProxyConfig(environments, problems), pageCount);
        }
        catch (OperationCanceledException ex) when (!cancellationToken.IsCancellationRequested)
        {
            throw new SaasRequestException($"SaaS /proxy/config did not answer within {timings.Value.ConfigFetchTimeout}", inner: ex);
        }
    }

    /// <summary><c>GET /client/env/{env}/feature-configs/{identifier}</c>.</summary>
    public Task<ConfigItem> GetFeatureConfigAsync(ProxyToken token, string environment, string identifier, CancellationToken cancellationToken) =>
        GetItemAsync(token, environment, $"/client/env/{Uri.EscapeDataString(environment)}/feature-configs/{Uri.EscapeDataString(identifier)}",
            "/client/env/:env/feature-configs", "", ConfigItem.FromFlag, cancellationToken);

    /// <summary><c>GET /client/env/{env}/target-segments/{identifier}?rules=v2</c>.</summary>
    public Task<ConfigItem> GetSegmentAsync(ProxyToken token, string environment, string identifier, CancellationToken cancellationToken) =>
        GetItemAsync(token, environment, $"/client/env/{Uri.EscapeDataString(environment)}/target-segments/{Uri.EscapeDataString(identifier)}",
            "/client/env/:env/target-segments", "&rules=v2", ConfigItem.FromSegment, cancellationToken);

    /// <summary><c>POST {METRIC_SERVICE}/metrics/{env}</c> with a <c>metricsData</c> or <c>targetData</c> body.</summary>
    public async Task PostMetricsAsync(ProxyToken token, string environment, byte[] body, CancellationToken cancellationToken)
    {
        var uri = SaasUris.Under(options.MetricService, "/metrics/" + Uri.EscapeDataString(environment) + "?cluster=" + Uri.EscapeDataString(token.ClusterIdentifier));
        using var request = new HttpRequestMessage(HttpMethod.Post, uri);
        AddEnvironmentHeaders(request, token, environment);
        request.Headers.ConnectionClose = true;
        request.Headers.TryAddWithoutValidation("x-api-key", "");
        request.Content = new ByteArrayContent(body) { Headers = { ContentType = new MediaTypeHeaderValue("application/json") } };
        using var response = await SendAsync(request, "/metrics", environment, cancellationToken, client: NoRetryHttpClientName).ConfigureAwait(false);
    }

    /// <summary>The account stream request of spec §3.4, with the latest token.</summary>
    public HttpRequestMessage CreateStreamRequest(ProxyToken token, string? lastEventId)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, ClientUri("/stream?cluster=" + Uri.EscapeDataString(token.ClusterIdentifier) + "&stream=%2A"));
        request.Headers.TryAddWithoutValidation("Authorization", token.AuthorizationHeader);
        request.Headers.TryAddWithoutValidation("API-Key", options.ProxyKey);
        request.Headers.TryAddWithoutValidation("Harness-AccountID", token.Account);
        request.Headers.TryAddWithoutValidation("Harness-SDK-Info", SdkInfo);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        request.Headers.CacheControl = new CacheControlHeaderValue { NoCache = true };
        request.Headers.Connection.Add("keep-alive");
        if (!string.IsNullOrEmpty(lastEventId))
        {
            request.Headers.TryAddWithoutValidation("Last-Event-ID", lastEventId);
        }

        return request;
    }

    private async Task<ConfigItem> GetItemAsync(
        ProxyToken token, string environment, string path, string metricUrl, string extraQuery,
        Func<JsonElement, ConfigItem> read, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, ClientUri(path + "?cluster=" + Uri.EscapeDataString(token.ClusterIdentifier) + extraQuery));
        AddEnvironmentHeaders(request, token, environment);
        using var document = await SendForJsonAsync(request, metricUrl, environment, cancellationToken).ConfigureAwait(false);
        try
        {
            return read(document.RootElement);
        }
        catch (Exception ex) when (ex is InvalidDataException or JsonException)
        {
            throw new SaasRequestException($"SaaS {metricUrl} answered with an invalid item: {ex.Message}", inner: ex);
        }
    }

    private static void AddEnvironmentHeaders(HttpRequestMessage request, ProxyToken token, string environment)
    {
        request.Headers.TryAddWithoutValidation("Authorization", token.AuthorizationHeader);
        request.Headers.TryAddWithoutValidation("Harness-AccountID", token.Account);
        request.Headers.TryAddWithoutValidation("Harness-EnvironmentID", environment);
        request.Headers.TryAddWithoutValidation("Harness-SDK-Info", SdkInfo);
    }

    private async Task<JsonDocument> SendForJsonAsync(HttpRequestMessage request, string metricUrl, string environment, CancellationToken cancellationToken)
    {
        using var response = await SendAsync(request, metricUrl, environment, cancellationToken).ConfigureAwait(false);
        try
        {
            var body = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            await using (body.ConfigureAwait(false))
            {
                return await JsonDocument.ParseAsync(body, DocumentOptions, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (JsonException ex)
        {
            throw new SaasRequestException($"SaaS {metricUrl} answered with invalid JSON", response.StatusCode, ex);
        }
        catch (Exception ex) when (IsTransportFailure(ex, cancellationToken))
        {
            // The connection broke or timed out mid-body ("response ended prematurely"): like any other SaaS failure.
            throw new SaasRequestException($"SaaS {metricUrl} reply was cut off: {ex.Message}", response.StatusCode, ex);
        }
    }

    private async Task<HttpResponseMessage> SendAsync(
        HttpRequestMessage request, string metricUrl, string environment, CancellationToken cancellationToken, string client = HttpClientName)
    {
        var started = Stopwatch.GetTimestamp();
        HttpResponseMessage response;
        try
        {
            response = await httpClients.CreateClient(client).SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (IsTransportFailure(ex, cancellationToken))
        {
            metrics.Record(metricUrl, environment, 0, Stopwatch.GetElapsedTime(started));
            throw new SaasRequestException($"SaaS {metricUrl} could not be reached: {ex.Message}", inner: ex);
        }

        metrics.Record(metricUrl, environment, (int)response.StatusCode, Stopwatch.GetElapsedTime(started));
        if (!response.IsSuccessStatusCode)
        {
            var status = response.StatusCode;
            response.Dispose();
            LogRequestFailed(logger, metricUrl, (int)status);
            throw new SaasRequestException($"SaaS {metricUrl} answered {(int)status} ({Describe(status)})", status);
        }

        return response;
    }

    /// <summary>Failures of the connection or a timeout, as opposed to the caller cancelling.</summary>
    private static bool IsTransportFailure(Exception ex, CancellationToken cancellationToken) =>
        ex is HttpRequestException or IOException or TimeoutException or Polly.Timeout.TimeoutRejectedException
        || (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested);

    private static string Describe(HttpStatusCode status) => status switch
    {
        HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden => "unauthorised",
        HttpStatusCode.NotFound => "not found",
        HttpStatusCode.BadRequest => "bad request",
        _ => "internal error",
    };

    private static EnvironmentConfig? ReadEnvironment(JsonElement env, IReadOnlyDictionary<string, EnvironmentConfig>? held, List<string> problems)
    {
        if (env.ValueKind != JsonValueKind.Object || !env.TryGetProperty("id", out var idElement) || idElement.ValueKind != JsonValueKind.String
            || string.IsNullOrEmpty(idElement.GetString()))
        {
            problems.Add("an environment without an id was skipped");
            return null;
        }

        var id = idElement.GetString()!;
        var known = held is not null && held.TryGetValue(id, out var config) ? config : null;

        // SaaS always sends the three arrays (the Go proxy would crash otherwise); be tolerant anyway.
        var keys = Elements(env, "apiKeys").Where(k => k.ValueKind == JsonValueKind.String).Select(k => k.GetString()!).ToList();
        return new EnvironmentConfig(id, keys,
            Items(env, "featureConfigs", "feature", ConfigItem.FromFlag, known?.Flags, id, problems),
            Items(env, "segments", "identifier", ConfigItem.FromSegment, known?.Segments, id, problems), []);
    }

    private static List<ConfigItem> Items(JsonElement env, string property, string identifierProperty, Func<JsonElement, ConfigItem> read,
        IReadOnlyList<ConfigItem>? held, string id, List<string> problems)
    {
        var known = new Dictionary<string, ConfigItem>(held?.Count ?? 0, StringComparer.Ordinal);
        foreach (var item in held ?? [])
        {
            known.TryAdd(item.Identifier, item);
        }

        var items = new List<ConfigItem>();
        foreach (var element in Elements(env, property))
        {
            if (known.Count > 0 && element.ValueKind == JsonValueKind.Object
                && element.TryGetProperty(identifierProperty, out var identifier) && identifier.ValueKind == JsonValueKind.String
                && known.TryGetValue(identifier.GetString()!, out var previous) && previous.IsExactly(element))
            {
                items.Add(previous);
                continue;
            }

            try
            {
                items.Add(read(element));
            }
            catch (Exception ex) when (ex is InvalidDataException or JsonException)
            {
                problems.Add($"environment {id}: an item of {property} was skipped: {ex.Message}");
            }
        }

        return items;
    }

    private static List<JsonElement> Elements(JsonElement env, string property) =>
        env.TryGetProperty(property, out var array) && array.ValueKind == JsonValueKind.Array ? [.. array.EnumerateArray()] : [];

    private Uri ClientUri(string pathAndQuery) => SaasUris.Under(options.ClientService, pathAndQuery);

    [LoggerMessage(EventId = LogEventIds.PrimarySaas.RequestFailed, Level = LogLevel.Warning, Message = "SaaS {Url} answered {StatusCode}")]
    private static partial void LogRequestFailed(ILogger logger, string url, int statusCode);
}

/// <summary>The result of <c>GET /proxy/config</c>: the environments, and items that were unusable.</summary>
internal sealed record ProxyConfig(IReadOnlyList<EnvironmentConfig> Environments, IReadOnlyList<string> Problems);

using System.Text.Json;
using FfProxy.Core.Domain;
using Microsoft.AspNetCore.Http;

namespace FfProxy.Core.Sdk;

/// <summary>
/// <c>POST /metrics/{env}</c> (spec §2.11): a validated metrics payload goes to this role's
/// <see cref="ISdkMetricsSink"/>; the SDK's type, version and language feed <c>ff_proxy_sdk_usage</c>.
/// </summary>
internal sealed class MetricsIntakeRoutes(ISdkMetricsSink metricsSink, ProxyMetrics metrics)
{
    public async Task PostMetrics(HttpContext context)
    {
        var environment = SdkRequest.RouteValue(context, SdkRoute.EnvironmentParameter);
        var body = await SdkRequest.ReadBodyAsync(context).ConfigureAwait(false);

        MetricsRequest? request;
        try
        {
            request = body.Length == 0 ? null : JsonSerializer.Deserialize(body, ProxyJsonContext.Default.MetricsRequest);
        }
        catch (JsonException ex)
        {
            await SdkResponses.WriteError(context, 400, "bad request: body is not a valid metrics payload: " + SdkRequest.JsonProblem(ex)).ConfigureAwait(false);
            return;
        }

        if (request is null)
        {
            await SdkResponses.WriteError(context, 400, "bad request: request body is empty").ConfigureAwait(false);
            return;
        }

        if (ConfigValidation.Problem(request) is { } problem)
        {
            await SdkResponses.WriteError(context, 400, "bad request: " + problem).ConfigureAwait(false);
            return;
        }

        RecordSdkUsage(environment, request);
        await metricsSink.AcceptAsync(environment, request, body.Length, context.RequestAborted).ConfigureAwait(false);
        await SdkResponses.WriteBytes(context.Response, 200, SdkResponses.JsonContentType, "null\n"u8.ToArray()).ConfigureAwait(false);
    }

    private void RecordSdkUsage(string environment, MetricsRequest request)
    {
        var attributes = request.MetricsData is { Count: > 0 } data ? data[0].Attributes : null;
        if (attributes is null)
        {
            return;
        }

        string type = "", version = "", language = "";
        foreach (var attribute in attributes)
        {
            switch (attribute.Key)
            {
                case "SDK_TYPE": type = attribute.Value; break;
                case "SDK_VERSION" or "JAR_VERSION": version = attribute.Value; break;
                case "SDK_LANGUAGE": language = attribute.Value; break;
            }
        }

        metrics.RecordSdkUsage(environment, type, version, language);
    }
}

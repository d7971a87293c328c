using Microsoft.AspNetCore.Http;

namespace FfProxy.Core.Sdk;

/// <summary><c>GET /health</c> (spec §2.12): the Go proxy's JSON of this process's <see cref="ProxyStatus"/>.</summary>
internal sealed class HealthRoutes(ProxyStatus status)
{
    public Task GetHealth(HttpContext context)
    {
        var config = status.Config;
        if (config.State == ConfigStates.FailedToSync)
        {
            return SdkResponses.WriteError(context, 500, "internal error");
        }

        var stream = status.Stream;
        return SdkResponses.WriteJson(context, writer =>
        {
            writer.WriteStartObject();
            writer.WriteStartObject("configStatus");
            writer.WriteString("state", config.State);
            writer.WriteNumber("since", config.Since);
            writer.WriteEndObject();
            writer.WriteStartObject("streamStatus");
            writer.WriteString("state", stream.State);
            writer.WriteNumber("since", stream.Since);
            writer.WriteEndObject();
            writer.WriteString("cacheStatus", status.CacheHealthy ? "healthy" : "unhealthy");
            writer.WriteEndObject();
        });
    }
}

using FfProxy.Core.Caching;
using FfProxy.Core.Configuration;
using Microsoft.AspNetCore.Http;

namespace FfProxy.Core.Sdk;

/// <summary>
/// The server SDKs' configuration reads (spec §2.6–§2.8): pre-serialized bodies from the environment's snapshot,
/// which reads the store only when this process has no snapshot of the environment yet.
/// </summary>
internal sealed class ConfigRoutes(ProxyOptions options, SnapshotCache snapshots)
{
    public async Task GetFeatureConfigs(HttpContext context)
    {
        var snapshot = await SnapshotAsync(context).ConfigureAwait(false);
        await SdkResponses.WriteSnapshotBody(context, snapshot.FeatureConfigs).ConfigureAwait(false);
    }

    public async Task GetFeatureConfig(HttpContext context)
    {
        var snapshot = await SnapshotAsync(context).ConfigureAwait(false);
        var identifier = SdkRequest.RouteValue(context, "identifier");
        if (snapshot.FeatureConfigById.TryGetValue(identifier, out var body))
        {
            await SdkResponses.WriteSnapshotBody(context, body).ConfigureAwait(false);
            return;
        }

        await SdkResponses.WriteError(context, 404, $"not found: flag '{identifier}' does not exist in this environment").ConfigureAwait(false);
    }

    public async Task GetSegments(HttpContext context)
    {
        var snapshot = await SnapshotAsync(context).ConfigureAwait(false);
        await SdkResponses.WriteSnapshotBody(context, WantsServingRules(context) ? snapshot.SegmentsV2 : snapshot.Segments).ConfigureAwait(false);
    }

    public async Task GetSegment(HttpContext context)
    {
        var snapshot = await SnapshotAsync(context).ConfigureAwait(false);
        var identifier = SdkRequest.RouteValue(context, "identifier");
        var byId = WantsServingRules(context) ? snapshot.SegmentV2ById : snapshot.SegmentById;
        if (byId.TryGetValue(identifier, out var body))
        {
            await SdkResponses.WriteSnapshotBody(context, body).ConfigureAwait(false);
            return;
        }

        await SdkResponses.WriteError(context, 404, $"not found: target group '{identifier}' does not exist in this environment").ConfigureAwait(false);
    }

    private async Task<EnvironmentSnapshot> SnapshotAsync(HttpContext context) =>
        await snapshots.GetAsync(SdkRequest.RouteValue(context, SdkRoute.EnvironmentParameter), context.RequestAborted).ConfigureAwait(false);

    private bool WantsServingRules(HttpContext context) =>
        options.AndRules && string.Equals(context.Request.Query["rules"].ToString(), "v2", StringComparison.Ordinal);
}

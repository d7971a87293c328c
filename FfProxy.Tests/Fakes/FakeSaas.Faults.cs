using System.Net;
using Microsoft.AspNetCore.Http;

namespace FfProxy.Tests.Fakes;

/// <summary>Faults, switched on by properties: refused or failing routes, slow or cut replies, dropped connections.</summary>
public sealed partial class FakeSaas
{
    private int _itemFailuresRemaining;
    private int _configFailuresRemaining;

    public bool RefuseStreams { get; set; }

    public HttpStatusCode? FailAuthWith { get; set; }

    public HttpStatusCode? FailConfigWith { get; set; }

    /// <summary>The next N <c>/proxy/config</c> requests answer 500 (a SaaS that recovers on its own).</summary>
    public int ConfigFailuresRemaining
    {
        get => Volatile.Read(ref _configFailuresRemaining);
        set => Volatile.Write(ref _configFailuresRemaining, value);
    }

    /// <summary>While set, <c>/proxy/config</c> pages from this number on answer 500 (earlier pages are served).</summary>
    public int? FailConfigPagesFrom { get; set; }

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

    /// <summary>Applies the faults that hit every request; true when the request was answered (or cut) here.</summary>
    private async Task<bool> AnswerWithFaultAsync(HttpContext context)
    {
        if (DropConnections)
        {
            context.Abort();
            return true;
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
            return true;
        }

        return false;
    }
}

using System.Diagnostics;
using System.Net;
using FfProxy.Tests.Fixtures;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace FfProxy.Tests.Gateway;

/// <summary>
/// An upstream that accepted a request and then never answers (frozen, deadlocked, a VM paused) while its
/// <c>/health</c> still answers: a request with an end gets 504 from the Gateway after its request timeout instead of
/// waiting out the streams' 10-minute idle timeout (a stream request that is never answered as well), and an SDK
/// stream, silent for longer than that, stays open.
/// </summary>
public sealed class FrozenUpstreamTests : IAsyncLifetime
{
    private static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(1);
    private WebApplication? _upstream;

    [Fact]
    public async Task A_request_the_upstream_never_answers_gets_504_after_the_request_timeout_and_streams_stay_open()
    {
        await using var gateway = PrimaryHost.StartGateway(new Dictionary<string, string>
        {
            ["UPSTREAMS"] = UpstreamAddress,
            ["FfProxy:Gateway:RequestTimeout"] = RequestTimeout.ToString(),
        });
        await gateway.WaitForHealthyUpstreamsAsync(1, TimeSpan.FromSeconds(10));

        using var stream = await gateway.Client.SendAsync(new HttpRequestMessage(HttpMethod.Get, "/stream?cluster=1"), HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, stream.StatusCode);

        var clock = Stopwatch.StartNew();
        using var get = await gateway.Client.GetAsync("/client/env/frozen/feature-configs?cluster=1");
        var waited = clock.Elapsed;
        using var post = await gateway.Client.PostAsync("/client/auth", new StringContent("{\"apiKey\":\"frozen\"}"));

        Assert.Equal(HttpStatusCode.GatewayTimeout, get.StatusCode);
        Assert.Equal("the upstream did not answer in time", System.Text.Json.JsonDocument.Parse(await get.Content.ReadAsStringAsync()).RootElement.GetProperty("message").GetString());
        Assert.InRange(waited, RequestTimeout * 0.9, TimeSpan.FromSeconds(10));
        Assert.Equal(HttpStatusCode.GatewayTimeout, post.StatusCode);

        // A stream whose upstream never answers its request gets 504 as well.
        clock.Restart();
        using var frozenStream = await gateway.Client.GetAsync("/stream?cluster=1&frozen=1", HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.GatewayTimeout, frozenStream.StatusCode);
        Assert.InRange(clock.Elapsed, RequestTimeout * 0.9, TimeSpan.FromSeconds(10));

        // The stream has been silent for more than twice the request timeout by now, and is still open.
        await using var body = await stream.Content.ReadAsStreamAsync();
        var read = body.ReadAsync(new byte[64]).AsTask();
        var first = await Task.WhenAny(read, Task.Delay(RequestTimeout * 2));
        Assert.NotSame(read, first);
    }

    [Fact]
    public async Task An_upstream_stream_that_never_ends_a_frame_is_dropped_and_its_sdk_streams_end()
    {
        await using var gateway = PrimaryHost.StartGateway(new Dictionary<string, string> { ["UPSTREAMS"] = UpstreamAddress });
        await gateway.WaitForHealthyUpstreamsAsync(1, TimeSpan.FromSeconds(10));

        using var stream = await gateway.Client.SendAsync(new HttpRequestMessage(HttpMethod.Get, "/stream?cluster=1&flood=1"), HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, stream.StatusCode);
        await using var body = await stream.Content.ReadAsStreamAsync();

        // Nothing of the unframed bytes reaches the SDK, and its stream ends (it would reconnect) instead of the
        // Gateway buffering without bound.
        Assert.Equal(0, await body.ReadAsync(new byte[64]).AsTask().WaitAsync(TimeSpan.FromSeconds(10)));
    }

    public async Task InitializeAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        _upstream = builder.Build();
        _upstream.MapGet("/health", () => Results.Ok());
        _upstream.MapGet("/stream", async context =>
        {
            if (context.Request.Query.ContainsKey("frozen"))
            {
                await Task.Delay(Timeout.Infinite, context.RequestAborted);   // never even answers the headers
            }

            if (context.Request.Query.ContainsKey("flood"))
            {
                // Not SSE: 2 MiB without a blank line, then silence.
                context.Response.ContentType = "text/event-stream";
                var line = new byte[64 * 1024];
                Array.Fill(line, (byte)'a');
                for (var i = 0; i < 32; i++)
                {
                    await context.Response.Body.WriteAsync(line, context.RequestAborted);
                }

                await context.Response.Body.FlushAsync(context.RequestAborted);
                await Task.Delay(Timeout.Infinite, context.RequestAborted);
            }

            context.Response.ContentType = "text/event-stream";
            await context.Response.Body.FlushAsync(context.RequestAborted);
            await Task.Delay(Timeout.Infinite, context.RequestAborted);
        });
        _upstream.MapFallback(context => Task.Delay(Timeout.Infinite, context.RequestAborted));
        await _upstream.StartAsync();
    }

    public async Task DisposeAsync()
    {
        if (_upstream is not null)
        {
            await _upstream.DisposeAsync();
        }
    }

    private string UpstreamAddress =>
        _upstream!.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
}

using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using FfProxy.Core.Domain;
using FfProxy.Core.Sdk;
using FfProxy.Tests.Fixtures;
using Microsoft.Extensions.DependencyInjection;

namespace FfProxy.Tests.Sdk;

public sealed class SdkStreamTests : IAsyncLifetime
{
    private PrimaryHost _proxy = null!;
    private string _token = "";

    public async Task InitializeAsync()
    {
        _proxy = PrimaryHost.StartOffline(new Dictionary<string, string> { ["FfProxy:StreamHeartbeatSeconds"] = "1" });
        _token = await _proxy.AuthenticateAsync(Sample.ServerKey);
    }

    public async Task DisposeAsync() => await _proxy.DisposeAsync();

    [Fact]
    public async Task Stream_answers_with_event_stream_headers_and_holds_the_connection()
    {
        await using var stream = await SseClient.ConnectAsync(_proxy.BaseAddress, _token, Sample.ServerKey);

        Assert.Equal("text/event-stream", stream.ContentHeaders.ContentType!.MediaType);
        Assert.Contains("no-cache", stream.Headers.CacheControl!.ToString(), StringComparison.Ordinal);
        Assert.False(stream.Headers.Contains("Grip-Hold"));
        Assert.False(stream.Completion.IsCompleted);
    }

    [Fact]
    public async Task Quiet_stream_gets_a_heartbeat_comment_written_on_its_own()
    {
        await using var stream = await SseClient.ConnectAsync(_proxy.BaseAddress, _token, Sample.ServerKey);

        var frame = await stream.NextFrameAsync(TimeSpan.FromSeconds(5));

        Assert.True(frame.IsHeartbeat);
        Assert.Equal(":\n\n", frame.Raw);
    }

    [Fact]
    public async Task Published_change_arrives_as_one_event_star_frame_with_one_line_json()
    {
        await using var stream = await SseClient.ConnectAsync(_proxy.BaseAddress, _token, Sample.ServerKey);
        var hub = _proxy.Services.GetRequiredService<SdkStreamHub>();
        await Eventually.TrueAsync(() => Task.FromResult(hub.ConnectionCount == 1));

        hub.Publish(new StreamMessage { Event = "patch", Domain = "flag", Identifier = "dark_mode", Version = 9, Environment = Sample.Environment });
        SseFrame frame;
        do
        {
            frame = await stream.NextFrameAsync(TimeSpan.FromSeconds(5));
        }
        while (frame.IsHeartbeat);

        Assert.Equal($"event: *\ndata: {{\"event\":\"patch\",\"domain\":\"flag\",\"identifier\":\"dark_mode\",\"version\":9,\"environment\":\"{Sample.Environment}\",\"apiKey\":\"\"}}\n\n", frame.Raw);
    }

    [Fact]
    public async Task Stream_follows_the_dotnet_sdk_parsing_rules()
    {
        // spec/sdk-clients.md C.3 (.NET SDK EventSource): lines without "domain" are heartbeats; an event is one
        // "data:" line holding the whole JSON object, and long.Parse(version) must succeed.
        await using var stream = await SseClient.ConnectAsync(_proxy.BaseAddress, _token, Sample.ServerKey);
        var hub = _proxy.Services.GetRequiredService<SdkStreamHub>();
        await Eventually.TrueAsync(() => Task.FromResult(hub.ConnectionCount == 1));
        hub.Publish(new StreamMessage { Event = "create", Domain = "target-segment", Identifier = "g1", Environment = Sample.Environment });

        var parsed = new List<(string Domain, long Version)>();
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (parsed.Count == 0 && DateTime.UtcNow < deadline)
        {
            var frame = await stream.NextFrameAsync(TimeSpan.FromSeconds(5));
            foreach (var line in frame.Raw.Split('\n'))
            {
                if (!line.Contains("domain", StringComparison.Ordinal))
                {
                    continue; // heartbeat or "event: *"
                }

                Assert.StartsWith("data:", line, StringComparison.Ordinal);
                using var json = JsonDocument.Parse(line["data:".Length..]);
                parsed.Add((json.RootElement.GetProperty("domain").GetString()!, long.Parse(json.RootElement.GetProperty("version").ToString(), System.Globalization.CultureInfo.InvariantCulture)));
            }
        }

        Assert.Equal([("target-segment", 0L)], parsed);
    }

    [Fact]
    public async Task Stream_without_api_key_is_400()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/stream?cluster=1");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", _token);
        using var response = await _proxy.Client.SendAsync(request);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
    }

    [Fact]
    public async Task Stream_with_unknown_api_key_is_404_without_echoing_the_key()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/stream?cluster=1");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", _token);
        request.Headers.Add("API-Key", "secret-looking-unknown-key");
        using var response = await _proxy.Client.SendAsync(request);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.DoesNotContain("secret-looking-unknown-key", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Stream_without_token_is_401()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/stream");
        request.Headers.Add("API-Key", Sample.ServerKey);
        using var response = await _proxy.Client.SendAsync(request);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Fact]
    public async Task Stream_is_503_while_upstream_is_disconnected()
    {
        var status = _proxy.Services.GetRequiredService<ProxyStatus>();
        status.SetStream(AccountStreamStates.Disconnected);
        try
        {
            var ex = await Assert.ThrowsAsync<HttpRequestException>(() => SseClient.ConnectAsync(_proxy.BaseAddress, _token, Sample.ServerKey));

            Assert.Equal(HttpStatusCode.ServiceUnavailable, ex.StatusCode);
            Assert.Contains("SaaS stream disconnected: streaming endpoint disabled", ex.Message, StringComparison.Ordinal);
        }
        finally
        {
            status.SetStream(AccountStreamStates.Connected);
        }
    }

    [Fact]
    public async Task Closing_an_environment_ends_its_streams()
    {
        await using var stream = await SseClient.ConnectAsync(_proxy.BaseAddress, _token, Sample.ServerKey);
        var hub = _proxy.Services.GetRequiredService<SdkStreamHub>();
        await Eventually.TrueAsync(() => Task.FromResult(hub.ConnectionCount == 1));

        hub.Close(Sample.Environment);

        await stream.Completion.WaitAsync(TimeSpan.FromSeconds(5));
        await Eventually.TrueAsync(() => Task.FromResult(hub.ConnectionCount == 0));
    }
}

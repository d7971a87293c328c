using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;

namespace FfProxy.Tests.Fixtures;

/// <summary>One frame read from an SDK stream: an event's data JSON, or a heartbeat comment.</summary>
public sealed record SseFrame(string Raw, bool IsHeartbeat, JsonElement? Data);

/// <summary>
/// Reads an SDK stream the way SDKs do: raw frames separated by a blank line, kept with their exact bytes.
/// </summary>
public sealed class SseClient : IAsyncDisposable
{
    private readonly HttpClient _http;
    private readonly HttpResponseMessage _response;
    private readonly Channel<SseFrame> _frames = Channel.CreateUnbounded<SseFrame>();
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _pump;

    private SseClient(HttpClient http, HttpResponseMessage response)
    {
        _http = http;
        _response = response;
        _pump = PumpAsync();
    }

    public HttpResponseHeaders Headers => _response.Headers;

    public HttpContentHeaders ContentHeaders => _response.Content.Headers;

    /// <summary>Completes when the server ends the stream.</summary>
    public Task Completion => _frames.Reader.Completion;

    /// <summary>True once the stream ended as a complete HTTP response (not a reset or a cancellation).</summary>
    public bool EndedCleanly { get; private set; }

    public static async Task<SseClient> ConnectAsync(Uri baseAddress, string token, string sdkKey)
    {
        var http = new HttpClient { BaseAddress = baseAddress, Timeout = Timeout.InfiniteTimeSpan };
        using var request = new HttpRequestMessage(HttpMethod.Get, "/stream?cluster=1");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        request.Headers.Add("API-Key", sdkKey);
        request.Headers.TryAddWithoutValidation("Accept", "text /event-stream"); // the .NET SDK's literal
        var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        if (response.StatusCode != HttpStatusCode.OK)
        {
            var body = await response.Content.ReadAsStringAsync();
            http.Dispose();
            throw new HttpRequestException($"stream answered {(int)response.StatusCode}: {body}", null, response.StatusCode);
        }

        return new SseClient(http, response);
    }

    /// <summary>The next event (heartbeats skipped), or fails after <paramref name="timeout"/>.</summary>
    public async Task<JsonElement> NextEventAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        while (true)
        {
            var frame = await _frames.Reader.ReadAsync(cts.Token);
            if (!frame.IsHeartbeat)
            {
                return frame.Data!.Value;
            }
        }
    }

    public async Task<SseFrame> NextFrameAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        return await _frames.Reader.ReadAsync(cts.Token);
    }

    /// <summary>True when no event (heartbeats aside) arrives within <paramref name="window"/>.</summary>
    public async Task<bool> QuietForAsync(TimeSpan window)
    {
        try
        {
            await NextEventAsync(window);
            return false;
        }
        catch (OperationCanceledException)
        {
            return true;
        }
    }

    private async Task PumpAsync()
    {
        try
        {
            await using var stream = await _response.Content.ReadAsStreamAsync(_stop.Token);
            var pending = new StringBuilder();
            var buffer = new byte[4096];
            int read;
            while ((read = await stream.ReadAsync(buffer, _stop.Token)) > 0)
            {
                pending.Append(Encoding.UTF8.GetString(buffer, 0, read));
                string text;
                int end;
                while ((end = (text = pending.ToString()).IndexOf("\n\n", StringComparison.Ordinal)) >= 0)
                {
                    var raw = text[..(end + 2)];
                    pending.Remove(0, end + 2);
                    await _frames.Writer.WriteAsync(Parse(raw));
                }
            }

            EndedCleanly = true;
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or HttpRequestException)
        {
        }
        finally
        {
            _frames.Writer.TryComplete();
        }
    }

    private static SseFrame Parse(string raw)
    {
        if (raw.StartsWith(':'))
        {
            return new SseFrame(raw, true, null);
        }

        foreach (var line in raw.Split('\n'))
        {
            if (line.StartsWith("data: ", StringComparison.Ordinal))
            {
                return new SseFrame(raw, false, JsonDocument.Parse(line["data: ".Length..]).RootElement.Clone());
            }
        }

        throw new InvalidDataException("SSE frame without data: " + raw);
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _response.Dispose();
        _http.Dispose();
        try
        {
            await _pump;
        }
        catch (OperationCanceledException)
        {
        }

        _stop.Dispose();
    }
}

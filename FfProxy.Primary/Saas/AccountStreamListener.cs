using System.Net;
using System.Text.Json;
using FfProxy.Core.Domain;
using FfProxy.Core.Hosting;
using FfProxy.Core.Messaging;
using FfProxy.Core.Sdk;
using Microsoft.Extensions.Options;

namespace FfProxy.Primary.Saas;

/// <summary>
/// The Primary's one account-level SSE stream to SaaS (spec §3.4, §3.5), with the recommended semantics: any end
/// or failed attempt → DISCONNECTED and a full re-sync (poll); a retry every <see cref="SaasTimings.StreamRetry"/>,
/// polling each time, until a frame arrives → re-sync again, then CONNECTED. The first sync runs before the server
/// accepts requests (spec §3.6), so SDKs never see an empty proxy that is about to fill.
/// </summary>
internal sealed partial class AccountStreamListener(
    AccountSync sync,
    HarnessSaasClient saas,
    ProxyTokenHolder tokens,
    AccountStreamState state,
    IHttpClientFactory httpClients,
    MessageStreamMetrics streamMetrics,
    IOptions<SaasTimings> timings,
    TimeProvider time,
    ILogger<AccountStreamListener> logger) : SupervisedLoop, IHostedLifecycleService
{
    protected override TimeProvider Time => time;

    protected override ILogger Logger => logger;

    /// <summary>A client without resilience or timeout: the stream is meant to stay open for hours.</summary>
    public const string HttpClientName = "saas-stream";

    private const string Topic = "*";
    private string? _lastEventId;
    private bool _connected;
    private long _connectedAt;

    public async Task StartingAsync(CancellationToken cancellationToken)
    {
        await state.SetAsync(AccountStreamStates.Initializing, cancellationToken).ConfigureAwait(false);
        await state.WriteAsync(cancellationToken).ConfigureAwait(false);
        await sync.SyncAllAsync(cancellationToken).ConfigureAwait(false);
    }

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    protected override async Task RunAsync(CancellationToken stoppingToken)
    {
        var pollFirst = false;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                if (pollFirst)
                {
                    // The stream could not be reached: a poll now, the next attempt after the usual wait (spec §3.5).
                    await sync.SyncAllAsync(stoppingToken).ConfigureAwait(false);
                    await Task.Delay(timings.Value.StreamRetry, time, stoppingToken).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex)
            {
                // Whatever broke the poll, the next attempt comes after the usual wait.
                LogStreamFailed(logger, Describe(ex));
                await Task.Delay(timings.Value.StreamRetry, time, stoppingToken).ConfigureAwait(false);
            }

            var connected = false;
            try
            {
                connected = await ConnectAsync(stoppingToken).ConfigureAwait(false);
                LogStreamEnded(logger);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex)
            {
                connected = _connected;
                LogStreamFailed(logger, Describe(ex));
            }

            try
            {
                streamMetrics.Received(MessageStreamMetrics.SaasToPrimary, Topic, "stream_disconnect");
                await state.SetAsync(AccountStreamStates.Disconnected, stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }

            // A stream that dropped soon after connecting waits out the rest of the retry interval (its connection's
            // re-sync was the poll), so a flapping stream cannot cause a sync per second.
            var up = time.GetElapsedTime(_connectedAt);
            if (connected && up < timings.Value.StreamRetry)
            {
                try
                {
                    await Task.Delay(timings.Value.StreamRetry - up, time, stoppingToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
                {
                    break;
                }
            }

            // A stream that was up is tried again at once without a poll: when it comes back, the one re-sync on
            // connection covers the gap. Only an attempt that fails polls, so each reconnection costs one full sync
            // and a stream that never connects is polled every StreamRetry.
            pollFirst = !connected;
        }
    }

    /// <summary>
    /// One stream attempt; returns when the stream ends, with whether it connected (read a first line). A 401
    /// re-authenticates and tries once more at once. An answer slower than the idle timeout counts as failed.
    /// </summary>
    private async Task<bool> ConnectAsync(CancellationToken stoppingToken)
    {
        _connected = false;
        for (var attempt = 0; ; attempt++)
        {
            var token = tokens.Current ?? await sync.AuthenticateAsync(stoppingToken).ConfigureAwait(false);
            using var request = saas.CreateStreamRequest(token, _lastEventId);
            streamMetrics.Subscribed(MessageStreamMetrics.SaasToPrimary, Topic);
            using var answer = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
            answer.CancelAfter(timings.Value.StreamIdleTimeout);
            HttpResponseMessage response;
            try
            {
                response = await httpClients.CreateClient(HttpClientName)
                    .SendAsync(request, HttpCompletionOption.ResponseHeadersRead, answer.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!stoppingToken.IsCancellationRequested)
            {
                throw new SaasRequestException($"SaaS /stream did not answer within {timings.Value.StreamIdleTimeout}", null);
            }

            using var answered = response;
            if (response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden && attempt == 0)
            {
                LogReauthenticating(logger, (int)response.StatusCode);
                await sync.AuthenticateAsync(stoppingToken).ConfigureAwait(false);
                continue;
            }

            if (!response.IsSuccessStatusCode)
            {
                throw new SaasRequestException($"SaaS /stream answered {(int)response.StatusCode}", response.StatusCode);
            }

            var body = await response.Content.ReadAsStreamAsync(stoppingToken).ConfigureAwait(false);
            await using (body.ConfigureAwait(false))
            {
                await ReadAsync(body, stoppingToken).ConfigureAwait(false);
            }

            return _connected;
        }
    }

    private async Task ReadAsync(Stream body, CancellationToken stoppingToken)
    {
        using var reader = new StreamReader(body);
        using var idle = new CancellationTokenSource(Timeout.InfiniteTimeSpan, time);
        using var stopping = stoppingToken.Register(static source => ((CancellationTokenSource)source!).Cancel(), idle);
        var connected = false;
        var data = new List<string>();
        while (true)
        {
            idle.CancelAfter(timings.Value.StreamIdleTimeout);
            string? line;
            try
            {
                line = await reader.ReadLineAsync(idle.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!stoppingToken.IsCancellationRequested)
            {
                LogIdle(logger, timings.Value.StreamIdleTimeout);
                return;
            }

            if (line is null)
            {
                return;
            }

            if (!connected)
            {
                // Connected on the first line read, a heartbeat comment is enough (spec §3.5).
                connected = true;
                _connected = true;
                _connectedAt = time.GetTimestamp();
                idle.CancelAfter(Timeout.InfiniteTimeSpan);
                await OnConnectedAsync(stoppingToken).ConfigureAwait(false);
            }

            if (line.Length == 0)
            {
                if (data.Count > 0)
                {
                    idle.CancelAfter(Timeout.InfiniteTimeSpan);
                    await DispatchAsync(string.Join('\n', data), stoppingToken).ConfigureAwait(false);
                    data.Clear();
                }

                continue;
            }

            if (line[0] == ':')
            {
                continue;
            }

            var colon = line.IndexOf(':', StringComparison.Ordinal);
            var field = colon < 0 ? line : line[..colon];
            var value = colon < 0 ? "" : line[(colon + 1)..];
            if (value.StartsWith(' '))
            {
                value = value[1..];
            }

            switch (field)
            {
                case "data":
                    data.Add(value);
                    break;
                case "id":
                    _lastEventId = value.Length > 0 ? value : null;
                    break;
            }
        }
    }

    private async Task OnConnectedAsync(CancellationToken cancellationToken)
    {
        if (state.Current == AccountStreamStates.Disconnected || !sync.HasSynced)
        {
            // Changes made while the stream was down are picked up before SDK streams are served again; so is the
            // whole configuration when no sync has succeeded yet (the start-up sync failed and the stream then
            // connected at its first attempt, with no poll in between).
            await sync.SyncAllAsync(cancellationToken).ConfigureAwait(false);
        }

        await state.SetAsync(AccountStreamStates.Connected, cancellationToken).ConfigureAwait(false);
    }

    private async Task DispatchAsync(string data, CancellationToken cancellationToken)
    {
        StreamMessage? message;
        try
        {
            message = JsonSerializer.Deserialize(data, ProxyJsonContext.Default.StreamMessage);
        }
        catch (JsonException ex)
        {
            streamMetrics.Received(MessageStreamMetrics.SaasToPrimary, Topic, "err_parsing_message");
            LogBadEvent(logger, ex.Message);
            return;
        }

        if (message is null)
        {
            streamMetrics.Received(MessageStreamMetrics.SaasToPrimary, Topic, "err_parsing_message");
            return;
        }

        LogEvent(logger, message.Event, message.Domain, message.Identifier, message.Environment);
        var applied = ApplyAsync(message, cancellationToken);

        // Flag and group events queue behind their environment's and apply while the next ones are read.
        if (!AccountSync.IsQueued(message))
        {
            await applied.ConfigureAwait(false);
        }
    }

    private async Task ApplyAsync(StreamMessage message, CancellationToken cancellationToken)
    {
        try
        {
            await sync.ApplyAsync(message, cancellationToken).ConfigureAwait(false);
            streamMetrics.Received(MessageStreamMetrics.SaasToPrimary, Topic, "false");
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Shutting down.
        }
        catch (Exception ex)
        {
            // One event failing must not end the stream; the next re-sync repairs the store.
            streamMetrics.Received(MessageStreamMetrics.SaasToPrimary, Topic, "unexpected_error");
            LogApplyFailed(logger, message.Event, message.Domain, Describe(ex));
        }
    }

    private static string Describe(Exception ex) => ex is HttpRequestException or SaasRequestException ? ex.Message : ex.GetType().Name + ": " + ex.Message;

    [LoggerMessage(EventId = LogEventIds.PrimarySaas.StreamEnded, Level = LogLevel.Warning, Message = "SaaS stream ended")]
    private static partial void LogStreamEnded(ILogger logger);

    [LoggerMessage(EventId = LogEventIds.PrimarySaas.StreamFailed, Level = LogLevel.Warning, Message = "SaaS stream failed: {Reason}")]
    private static partial void LogStreamFailed(ILogger logger, string reason);

    [LoggerMessage(EventId = LogEventIds.PrimarySaas.Reauthenticating, Level = LogLevel.Information, Message = "SaaS stream answered {StatusCode}; re-authenticating")]
    private static partial void LogReauthenticating(ILogger logger, int statusCode);

    [LoggerMessage(EventId = LogEventIds.PrimarySaas.Idle, Level = LogLevel.Warning, Message = "SaaS stream silent for {Timeout}; reconnecting")]
    private static partial void LogIdle(ILogger logger, TimeSpan timeout);

    [LoggerMessage(EventId = LogEventIds.PrimarySaas.BadEvent, Level = LogLevel.Warning, Message = "Unreadable SaaS stream event: {Reason}")]
    private static partial void LogBadEvent(ILogger logger, string reason);

    [LoggerMessage(EventId = LogEventIds.PrimarySaas.Event, Level = LogLevel.Information, Message = "SaaS event {Event} {Domain} {Identifier} in environment {Environment}")]
    private static partial void LogEvent(ILogger logger, string @event, string domain, string identifier, string environment);

    [LoggerMessage(EventId = LogEventIds.PrimarySaas.ApplyFailed, Level = LogLevel.Error, Message = "Applying SaaS event {Event} ({Domain}) failed: {Reason}")]
    private static partial void LogApplyFailed(ILogger logger, string @event, string domain, string reason);
}

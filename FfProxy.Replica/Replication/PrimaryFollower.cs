using System.Text.Json;
using FfProxy.Core.Caching;
using FfProxy.Core.Domain;
using FfProxy.Core.Hosting;
using FfProxy.Core.Messaging;
using FfProxy.Core.Sdk;
using Microsoft.Extensions.Options;

namespace FfProxy.Replica.Replication;

/// <summary>
/// A Replica's view of the Primary, through Redis only. At start it waits for <c>ffproxy_saas_stream_health</c>
/// (INITIALIZING until then, so <c>/stream</c> answers 503), then follows <c>proxy:sse_events</c> (refresh the
/// affected snapshot, then tell this process's SDK streams) and the control stream (DISCONNECTED closes SDK streams).
/// When Redis fails it keeps serving its snapshots, reports the cache unhealthy, resubscribes from <c>$</c> and
/// reloads every snapshot, since events of the gap are gone.
/// </summary>
internal sealed partial class PrimaryFollower(
    IMessageStreams streams,
    IKeyValueStore store,
    SnapshotCache snapshots,
    SnapshotReconciler reconciler,
    SdkStreamHub hub,
    ProxyStatus status,
    MessageStreamMetrics streamMetrics,
    IOptions<ReplicationTimings> timings,
    TimeProvider time,
    ILogger<PrimaryFollower> logger) : SupervisedLoop
{
    protected override TimeProvider Time => time;

    protected override ILogger Logger => logger;

    protected override async Task RunAsync(CancellationToken stoppingToken)
    {
        status.SetConfig(ConfigStates.ReadReplica);
        try
        {
            await WaitForPrimaryAsync(stoppingToken).ConfigureAwait(false);
            await PreloadAsync(stoppingToken).ConfigureAwait(false);
            await Task.WhenAll(
                FollowAsync(CacheKeys.SseEventsStream, OnEventAsync, CatchUpWithConfigurationAsync, stoppingToken),
                FollowAsync(CacheKeys.ControlStream, OnControlAsync, WaitForPrimaryAsync, stoppingToken)).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Shutting down.
        }
    }

    /// <summary>Loads every environment into memory, so SDKs are served even if Redis goes away later.</summary>
    private async Task PreloadAsync(CancellationToken cancellationToken)
    {
        try
        {
            var started = time.GetTimestamp();
            var count = await snapshots.RefreshAllAsync(cancellationToken).ConfigureAwait(false);
            var elapsedMs = (long)time.GetElapsedTime(started).TotalMilliseconds;
            LogPreloaded(logger, count, elapsedMs);
        }
        catch (StoreUnavailableException ex)
        {
            // Environments then load on their first request.
            LogRedisFailed(logger, "the configuration", ex.Message);
        }
    }

    /// <summary>
    /// After a gap in <c>proxy:sse_events</c>: once the Primary has written its state again (after a Redis restart
    /// it first writes the configuration again), reload every snapshot and tell SDK streams about every item whose
    /// version changed, since the gap's events are gone.
    /// </summary>
    private async Task CatchUpWithConfigurationAsync(CancellationToken cancellationToken)
    {
        await WaitForPrimaryAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await reconciler.ReloadAllAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (StoreUnavailableException ex)
        {
            LogRedisFailed(logger, "the configuration", ex.Message);
        }
    }

    /// <summary>Until the Primary's stream state is in Redis, copies it into this process (also after a control-stream gap).</summary>
    private async Task WaitForPrimaryAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            if (await ReadPrimaryStateAsync(cancellationToken).ConfigureAwait(false))
            {
                return;
            }

            await Task.Delay(timings.Value.StatePoll, time, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Copies the Primary's stream state from Redis; false while it has not written one.</summary>
    private async Task<bool> ReadPrimaryStateAsync(CancellationToken cancellationToken)
    {
        try
        {
            var stored = await store.GetAsync(CacheKeys.StreamHealth, cancellationToken).ConfigureAwait(false);
            status.SetCacheHealthy(true);
            var health = stored is null ? null : JsonSerializer.Deserialize(stored, ProxyJsonContext.Default.AccountStreamHealth);
            if (health?.State is AccountStreamStates.Connected or AccountStreamStates.Disconnected)
            {
                ApplyStreamState(health.State);
                return true;
            }
        }
        catch (StoreUnavailableException ex)
        {
            status.SetCacheHealthy(false);
            LogRedisFailed(logger, CacheKeys.StreamHealth, ex.Message);
        }
        catch (JsonException ex)
        {
            LogBadMessage(logger, CacheKeys.StreamHealth, ex.Message);
        }

        return false;
    }

    /// <param name="catchUp">What to do after resubscribing from <c>$</c>: the entries of the gap are lost.</param>
    private async Task FollowAsync(
        string stream, Func<StreamMessage, CancellationToken, Task> handle, Func<CancellationToken, Task> catchUp, CancellationToken cancellationToken)
    {
        var caughtUp = true;
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                streamMetrics.Subscribed(MessageStreamMetrics.ReplicaConsumer, stream);
                var entries = streams.ReadAsync(stream, MessageStreamPosition.NewOnly, cancellationToken);
                if (!caughtUp)
                {
                    await catchUp(cancellationToken).ConfigureAwait(false);
                    caughtUp = true;
                    LogResubscribed(logger, stream);
                }

                await foreach (var entry in entries.ConfigureAwait(false))
                {
                    StreamMessage? message = null;
                    try
                    {
                        message = JsonSerializer.Deserialize(entry.Payload.Span, ProxyJsonContext.Default.StreamMessage);
                    }
                    catch (JsonException ex)
                    {
                        LogBadMessage(logger, stream, ex.Message);
                    }

                    if (message is null)
                    {
                        streamMetrics.Received(MessageStreamMetrics.ReplicaConsumer, stream, "err_parsing_message");
                        continue;
                    }

                    await handle(message, cancellationToken).ConfigureAwait(false);
                    streamMetrics.Received(MessageStreamMetrics.ReplicaConsumer, stream, "false");
                }
            }
            catch (StoreUnavailableException ex)
            {
                caughtUp = false;
                status.SetCacheHealthy(false);
                streamMetrics.Received(MessageStreamMetrics.ReplicaConsumer, stream, "err_subscribing");
                LogRedisFailed(logger, stream, ex.Message);
                await Task.Delay(timings.Value.ResubscribeBackoff, time, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private async Task OnEventAsync(StreamMessage message, CancellationToken cancellationToken)
    {
        // The store already holds the change (the Primary writes before it publishes): rebuild, then notify at once.
        // An SDK's refetch after the event reaches this same Replica, which already holds the change: the Gateway
        // routes all requests of one SDK token to one Replica (FfProxy.Gateway/SdkTokenAffinity.cs).
        if (ChangeForwarding.IsItemChange(message))
        {
            await snapshots.RefreshAsync(message.Environment, cancellationToken).ConfigureAwait(false);
            hub.Publish(message);
            return;
        }

        if (ChangeForwarding.EndsStreams(message))
        {
            foreach (var environment in message.Environments ?? [])
            {
                await snapshots.RefreshAsync(environment, cancellationToken).ConfigureAwait(false);
                hub.Close(environment);
            }
        }
    }

    private Task OnControlAsync(StreamMessage message, CancellationToken cancellationToken)
    {
        if (message.Event == StreamEvents.StreamAction && message.Domain is AccountStreamStates.Connected or AccountStreamStates.Disconnected)
        {
            ApplyStreamState(message.Domain);
        }

        return Task.CompletedTask;
    }

    private void ApplyStreamState(string state)
    {
        if (status.SetStream(state))
        {
            LogStreamState(logger, state);
            if (state == AccountStreamStates.Disconnected)
            {
                hub.CloseAll();
            }
        }
    }

    [LoggerMessage(EventId = LogEventIds.ReplicaReplication.RedisFailed, Level = LogLevel.Warning, Message = "Redis failed while reading {Source}: {Reason}")]
    private static partial void LogRedisFailed(ILogger logger, string source, string reason);

    [LoggerMessage(EventId = LogEventIds.ReplicaReplication.BadMessage, Level = LogLevel.Warning, Message = "Unreadable message on {Source}: {Reason}")]
    private static partial void LogBadMessage(ILogger logger, string source, string reason);

    [LoggerMessage(EventId = LogEventIds.ReplicaReplication.Resubscribed, Level = LogLevel.Information, Message = "Resubscribed to {Stream} and caught up with what the gap changed")]
    private static partial void LogResubscribed(ILogger logger, string stream);

    [LoggerMessage(EventId = LogEventIds.ReplicaReplication.Preloaded, Level = LogLevel.Information, Message = "Preloaded {Count} environments in {ElapsedMs} ms")]
    private static partial void LogPreloaded(ILogger logger, int count, long elapsedMs);

    [LoggerMessage(EventId = LogEventIds.ReplicaReplication.StreamState, Level = LogLevel.Information, Message = "The Primary's SaaS stream is {State}")]
    private static partial void LogStreamState(ILogger logger, string state);
}

using System.Text.Json;
using FfProxy.Core.Caching;
using FfProxy.Core.Domain;
using FfProxy.Core.Hosting;
using FfProxy.Core.Messaging;
using FfProxy.Core.Sdk;
using Microsoft.Extensions.Options;

namespace FfProxy.Primary.Saas;

/// <summary>
/// The Primary's SaaS stream state (spec §3.5, §3.9): kept in <see cref="ProxyStatus"/>, mirrored to
/// <c>ffproxy_saas_stream_health</c> for Replicas starting up, announced on the control stream, and shown by the
/// <c>ff_proxy_stream_health</c> (through <c>/health</c>'s state) / <c>ff_proxy_polling_status</c> gauges. Store failures are logged, never thrown:
/// the periodic rebroadcast repairs what a Redis outage missed.
/// </summary>
internal sealed partial class AccountStreamState(
    ProxyStatus status,
    IKeyValueStore store,
    IMessageStreams streams,
    SdkStreamHub hub,
    SaasMetrics metrics,
    MessageStreamMetrics streamMetrics,
    ILogger<AccountStreamState> logger)
{
    public const int ControlStreamMaxLength = 1000;

    public string Current => status.Stream.State;

    public async Task SetAsync(string state, CancellationToken cancellationToken)
    {
        var changed = status.SetStream(state);
        metrics.SetStreamConnected(state == AccountStreamStates.Connected);
        if (!changed)
        {
            return;
        }

        LogStateChanged(logger, state);
        if (state == AccountStreamStates.Disconnected)
        {
            // Changes can no longer reach SDKs by stream: they reconnect, get 503 and poll meanwhile.
            hub.CloseAll();
        }

        await WriteAsync(cancellationToken).ConfigureAwait(false);
        await BroadcastAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Writes the state to <c>ffproxy_saas_stream_health</c>.</summary>
    public async Task WriteAsync(CancellationToken cancellationToken)
    {
        try
        {
            await store.SetAsync([new(CacheKeys.StreamHealth, Serialize())], cancellationToken).ConfigureAwait(false);
        }
        catch (StoreUnavailableException ex)
        {
            LogStoreFailed(logger, ex.Message);
        }
    }

    /// <summary>
    /// Rewrites <c>ffproxy_saas_stream_health</c> when it differs from memory. When it is gone altogether, Redis lost
    /// its data (a restart without persistence, a flush): <paramref name="repopulate"/> writes the configuration
    /// again first, so Replicas, which wait for this key, never reload from an empty store.
    /// </summary>
    public async Task VerifyAsync(Func<CancellationToken, Task> repopulate, CancellationToken cancellationToken)
    {
        try
        {
            var stored = await store.GetAsync(CacheKeys.StreamHealth, cancellationToken).ConfigureAwait(false);
            if (stored is null)
            {
                LogStoreLost(logger);
                await repopulate(cancellationToken).ConfigureAwait(false);
            }

            var current = Serialize();
            if (stored is null || !stored.AsSpan().SequenceEqual(current))
            {
                await store.SetAsync([new(CacheKeys.StreamHealth, current)], cancellationToken).ConfigureAwait(false);
            }
        }
        catch (StoreUnavailableException ex)
        {
            LogStoreFailed(logger, ex.Message);
        }
    }

    /// <summary>Publishes the state on <c>proxy:primary_to_replica_control_events</c>; Replicas only act on CONNECTED/DISCONNECTED.</summary>
    public async Task BroadcastAsync(CancellationToken cancellationToken)
    {
        var state = status.Stream.State;
        if (state == AccountStreamStates.Initializing)
        {
            return;
        }

        var payload = JsonSerializer.SerializeToUtf8Bytes(StreamEvents.StreamStateMessage(state), ProxyJsonContext.Default.StreamMessage);
        try
        {
            await streams.AppendAsync(CacheKeys.ControlStream, payload, ControlStreamMaxLength, cancellationToken).ConfigureAwait(false);
            streamMetrics.Published(MessageStreamMetrics.PrimaryToReplica, CacheKeys.ControlStream, "false");
        }
        catch (StoreUnavailableException ex)
        {
            streamMetrics.Published(MessageStreamMetrics.PrimaryToReplica, CacheKeys.ControlStream, "err_publishing");
            LogStoreFailed(logger, ex.Message);
        }
    }

    private byte[] Serialize()
    {
        var current = status.Stream;
        return JsonSerializer.SerializeToUtf8Bytes(new AccountStreamHealth(current.State, current.Since), ProxyJsonContext.Default.AccountStreamHealth);
    }

    [LoggerMessage(EventId = LogEventIds.PrimarySaas.StateChanged, Level = LogLevel.Information, Message = "SaaS stream is now {State}")]
    private static partial void LogStateChanged(ILogger logger, string state);

    [LoggerMessage(EventId = LogEventIds.PrimarySaas.StoreLost, Level = LogLevel.Warning, Message = "The store lost the proxy's data; writing the configuration again")]
    private static partial void LogStoreLost(ILogger logger);

    [LoggerMessage(EventId = LogEventIds.PrimarySaas.StoreFailed, Level = LogLevel.Warning, Message = "Could not share the SaaS stream state through the store: {Reason}")]
    private static partial void LogStoreFailed(ILogger logger, string reason);
}

/// <summary>
/// Re-announces the stream state to Replicas every 20 s and repairs the Redis copy every 60 s (spec §3.5), and at
/// once when the Redis connection is restored: a restarted Redis may be empty, and SDK keys are gone until it is
/// written again.
/// </summary>
internal sealed partial class AccountStreamStateBroadcaster(
    AccountStreamState state,
    IStoreRepopulator repopulator,
    StoreReconnections reconnections,
    IOptions<SaasTimings> timings,
    TimeProvider time,
    ILogger<AccountStreamStateBroadcaster> logger) : SupervisedLoop
{
    protected override TimeProvider Time => time;

    protected override ILogger Logger => logger;

    protected override async Task RunAsync(CancellationToken stoppingToken)
    {
        var settings = timings.Value;
        var nextVerification = time.GetUtcNow();
        using var timer = new PeriodicTimer(settings.StateBroadcast, time);
        Task<bool>? tick = null;
        Task? restored = null;
        while (true)
        {
            try
            {
                if (time.GetUtcNow() >= nextVerification)
                {
                    nextVerification = time.GetUtcNow() + settings.StateVerification;
                    await state.VerifyAsync(repopulator.RepopulateAsync, stoppingToken).ConfigureAwait(false);
                }

                await state.BroadcastAsync(stoppingToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                LogFailed(logger, ex);
            }

            tick ??= timer.WaitForNextTickAsync(stoppingToken).AsTask();
            restored ??= reconnections.WaitAsync(stoppingToken);
            if (await Task.WhenAny(tick, restored).ConfigureAwait(false) == restored)
            {
                await restored.ConfigureAwait(false);
                restored = null;
                nextVerification = time.GetUtcNow();
            }
            else if (!await tick.ConfigureAwait(false))
            {
                return;
            }
            else
            {
                tick = null;
            }
        }
    }

    [LoggerMessage(EventId = LogEventIds.PrimarySaas.Failed, Level = LogLevel.Error, Message = "Stream state broadcast failed")]
    private static partial void LogFailed(ILogger logger, Exception exception);
}

/// <summary>Writes the whole configuration to the store again (after the store lost its data).</summary>
internal interface IStoreRepopulator
{
    Task RepopulateAsync(CancellationToken cancellationToken);
}

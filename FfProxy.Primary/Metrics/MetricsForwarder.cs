using System.Text.Json;
using System.Threading.Channels;
using FfProxy.Core.Configuration;
using FfProxy.Core.Domain;
using FfProxy.Core.Hosting;
using FfProxy.Primary.Saas;

namespace FfProxy.Primary.Metrics;

/// <summary>
/// Posts aggregated metrics to SaaS every METRIC_POST_DURATION seconds (0 disables it) and whenever 1 MiB has
/// accumulated: per environment one <c>{"metricsData":[…]}</c> and one <c>{"targetData":[…]}</c> request
/// (spec §3.7). A failed post is logged, counted and dropped, as the Go proxy does; metrics are not retried.
/// </summary>
internal sealed partial class MetricsForwarder(
    MetricsAggregator aggregator,
    HarnessSaasClient saas,
    ProxyTokenHolder tokens,
    SaasMetrics metrics,
    ProxyOptions options,
    TimeProvider time,
    ILogger<MetricsForwarder> logger) : SupervisedLoop
{
    protected override TimeProvider Time => time;

    protected override ILogger Logger => logger;

    /// <summary>
    /// Flushes in a row that may find no proxy token (before the first <c>/proxy/auth</c> succeeds) while the
    /// drained batches wait in the queue; then they are dropped. Each flush drains at most about 1 MiB (the size
    /// trigger), so what waits stays bounded even if SaaS never answers.
    /// </summary>
    public const int MaxFlushesWithoutToken = 10;

    /// <summary>How long the last flush may take when the host stops, however long the host would wait.</summary>
    public static TimeSpan ShutdownFlushTimeout { get; } = TimeSpan.FromSeconds(5);

    private readonly Channel<bool> _sizeTrigger = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
    private int _flushesWithoutToken;

    public override Task StartAsync(CancellationToken cancellationToken)
    {
        aggregator.FlushRequested += OnFlushRequested;
        return base.StartAsync(cancellationToken);
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        aggregator.FlushRequested -= OnFlushRequested;
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
        if (options.MetricPostDuration <= 0)
        {
            return;
        }

        // What came in since the last flush still goes out. The loop has ended by now, unless the host stopped waiting
        // for it; then the host token is cancelled too and this flush ends at once.
        using var limit = new CancellationTokenSource(ShutdownFlushTimeout, time);
        using var either = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, limit.Token);
        try
        {
            await FlushAsync(final: true, either.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            LogShutdownFlushCut(logger);
        }
    }

    protected override async Task RunAsync(CancellationToken stoppingToken)
    {
        if (options.MetricPostDuration <= 0)
        {
            LogDisabled(logger);
            return;
        }

        var interval = TimeSpan.FromSeconds(options.MetricPostDuration);
        while (!stoppingToken.IsCancellationRequested)
        {
            using var tick = new CancellationTokenSource(interval, time);
            using var either = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken, tick.Token);
            try
            {
                await _sizeTrigger.Reader.ReadAsync(either.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!stoppingToken.IsCancellationRequested)
            {
                // The interval elapsed.
            }
            catch (OperationCanceledException)
            {
                return;
            }

            try
            {
                await FlushAsync(final: false, stoppingToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // The next interval tries again with whatever has come in by then.
                LogFlushCrashed(logger, ex);
            }
        }
    }

    private async Task FlushAsync(bool final, CancellationToken cancellationToken)
    {
        var batches = aggregator.Drain();
        if (batches.Count == 0)
        {
            return;
        }

        if (tokens.Current is not { } token)
        {
            HoldOrDrop(batches, final);
            return;
        }

        _flushesWithoutToken = 0;
        foreach (var batch in batches)
        {
            if (batch.MetricsData.Count > 0)
            {
                await PostAsync(token, batch.Environment, new MetricsRequest { MetricsData = batch.MetricsData }, cancellationToken).ConfigureAwait(false);
            }

            if (batch.TargetData.Count > 0)
            {
                await PostAsync(token, batch.Environment, new MetricsRequest { TargetData = batch.TargetData }, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private void HoldOrDrop(IReadOnlyList<MetricsBatch> batches, bool final)
    {
        if (!final && ++_flushesWithoutToken < MaxFlushesWithoutToken)
        {
            // Back into the queue, where buckets merge again; no bytes, as they were counted when they came in and
            // would otherwise set off the size trigger again at once.
            foreach (var batch in batches)
            {
                aggregator.Add(batch.Environment, new MetricsRequest { MetricsData = batch.MetricsData, TargetData = batch.TargetData }, payloadBytes: 0);
            }

            LogHeldForToken(logger, batches.Count);
            return;
        }

        _flushesWithoutToken = 0;
        LogDroppedWithoutToken(logger, batches.Count);
        foreach (var batch in batches)
        {
            metrics.RecordMetricsForwarded(batch.Environment, error: true);
        }
    }

    private async Task PostAsync(ProxyToken token, string environment, MetricsRequest body, CancellationToken cancellationToken)
    {
        try
        {
            await saas.PostMetricsAsync(token, environment, JsonSerializer.SerializeToUtf8Bytes(body, ProxyJsonContext.Default.MetricsRequest), cancellationToken).ConfigureAwait(false);
            metrics.RecordMetricsForwarded(environment, error: false);
        }
        catch (SaasRequestException ex)
        {
            metrics.RecordMetricsForwarded(environment, error: true);
            LogPostFailed(logger, environment, ex.Message);
        }
    }

    private void OnFlushRequested() => _sizeTrigger.Writer.TryWrite(true);

    [LoggerMessage(EventId = LogEventIds.PrimaryMetrics.Disabled, Level = LogLevel.Information, Message = "Metrics forwarding is disabled (METRIC_POST_DURATION=0)")]
    private static partial void LogDisabled(ILogger logger);

    [LoggerMessage(EventId = LogEventIds.PrimaryMetrics.DroppedWithoutToken, Level = LogLevel.Warning, Message = "Dropped metrics of {Count} environments: no SaaS token")]
    private static partial void LogDroppedWithoutToken(ILogger logger, int count);

    [LoggerMessage(EventId = LogEventIds.PrimaryMetrics.PostFailed, Level = LogLevel.Warning, Message = "Posting metrics of environment {Environment} failed; the batch is dropped: {Reason}")]
    private static partial void LogPostFailed(ILogger logger, string environment, string reason);

    [LoggerMessage(EventId = LogEventIds.PrimaryMetrics.FlushCrashed, Level = LogLevel.Error, Message = "Metrics flush failed")]
    private static partial void LogFlushCrashed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = LogEventIds.PrimaryMetrics.HeldForToken, Level = LogLevel.Information, Message = "Holding metrics of {Count} environments until there is a SaaS token")]
    private static partial void LogHeldForToken(ILogger logger, int count);

    [LoggerMessage(EventId = LogEventIds.PrimaryMetrics.ShutdownFlushCut, Level = LogLevel.Warning, Message = "The last metrics flush was cut short by shutdown")]
    private static partial void LogShutdownFlushCut(ILogger logger);
}

using System.Text.Json;
using System.Threading.Channels;
using FfProxy.Core.Configuration;
using FfProxy.Core.Domain;
using FfProxy.Core.Sdk;
using FfProxy.Primary.Saas;

namespace FfProxy.Primary.Metrics;

/// <summary>The Primary's intake of <c>POST /metrics/{env}</c>: into the aggregation queue.</summary>
public sealed class AggregatingMetricsSink(MetricsAggregator aggregator) : ISdkMetricsSink
{
    public ValueTask AcceptAsync(string environment, MetricsRequest metrics, int payloadBytes, CancellationToken cancellationToken)
    {
        aggregator.Add(environment, metrics, payloadBytes);
        return ValueTask.CompletedTask;
    }
}

/// <summary>
/// Posts aggregated metrics to SaaS every METRIC_POST_DURATION seconds (0 disables it) and whenever 1 MiB has
/// accumulated: per environment one <c>{"metricsData":[…]}</c> and one <c>{"targetData":[…]}</c> request
/// (spec §3.7). A failed post is logged, counted and dropped, as the Go proxy does; metrics are not retried.
/// </summary>
public sealed partial class MetricsForwarder(
    MetricsAggregator aggregator,
    HarnessSaasClient saas,
    ProxyTokenHolder tokens,
    SaasMetrics metrics,
    ProxyOptions options,
    TimeProvider time,
    ILogger<MetricsForwarder> logger) : BackgroundService
{
    private readonly Channel<bool> _sizeTrigger = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });

    public override Task StartAsync(CancellationToken cancellationToken)
    {
        aggregator.FlushRequested += OnFlushRequested;
        return base.StartAsync(cancellationToken);
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        aggregator.FlushRequested -= OnFlushRequested;
        await base.StopAsync(cancellationToken).ConfigureAwait(false);

        // What came in since the last flush still goes out, within the host's shutdown time.
        if (options.MetricPostDuration > 0)
        {
            await FlushAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
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
                await FlushAsync(stoppingToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                LogFlushCrashed(logger, ex);
            }
        }
    }

    /// <summary>Posts everything accumulated; returns the number of requests that succeeded.</summary>
    public async Task<int> FlushAsync(CancellationToken cancellationToken)
    {
        var batches = aggregator.Drain();
        if (batches.Count == 0)
        {
            return 0;
        }

        if (tokens.Current is not { } token)
        {
            LogNoToken(logger, batches.Count);
            foreach (var batch in batches)
            {
                metrics.RecordMetricsForwarded(batch.Environment, error: true);
            }

            return 0;
        }

        var posted = 0;
        foreach (var batch in batches)
        {
            if (batch.MetricsData.Count > 0)
            {
                posted += await PostAsync(token, batch.Environment, new MetricsRequest { MetricsData = batch.MetricsData }, cancellationToken).ConfigureAwait(false);
            }

            if (batch.TargetData.Count > 0)
            {
                posted += await PostAsync(token, batch.Environment, new MetricsRequest { TargetData = batch.TargetData }, cancellationToken).ConfigureAwait(false);
            }
        }

        return posted;
    }

    private async Task<int> PostAsync(ProxyToken token, string environment, MetricsRequest body, CancellationToken cancellationToken)
    {
        try
        {
            await saas.PostMetricsAsync(token, environment, JsonSerializer.SerializeToUtf8Bytes(body, ProxyJsonContext.Default.MetricsRequest), cancellationToken).ConfigureAwait(false);
            metrics.RecordMetricsForwarded(environment, error: false);
            return 1;
        }
        catch (SaasRequestException ex)
        {
            metrics.RecordMetricsForwarded(environment, error: true);
            LogPostFailed(logger, environment, ex.Message);
            return 0;
        }
    }

    private void OnFlushRequested() => _sizeTrigger.Writer.TryWrite(true);

    [LoggerMessage(EventId = 4001, Level = LogLevel.Information, Message = "Metrics forwarding is disabled (METRIC_POST_DURATION=0)")]
    private static partial void LogDisabled(ILogger logger);

    [LoggerMessage(EventId = 4002, Level = LogLevel.Warning, Message = "Dropped metrics of {Count} environments: no SaaS token yet")]
    private static partial void LogNoToken(ILogger logger, int count);

    [LoggerMessage(EventId = 4003, Level = LogLevel.Warning, Message = "Posting metrics of environment {Environment} failed; the batch is dropped: {Reason}")]
    private static partial void LogPostFailed(ILogger logger, string environment, string reason);

    [LoggerMessage(EventId = 4004, Level = LogLevel.Error, Message = "Metrics flush failed")]
    private static partial void LogFlushCrashed(ILogger logger, Exception exception);
}

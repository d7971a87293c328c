using System.Net;
using System.Text.Json.Nodes;
using FfProxy.Core.Configuration;
using FfProxy.Core.Domain;
using FfProxy.Core.Saas;
using FfProxy.Core.Sdk;
using FfProxy.Primary.Metrics;
using FfProxy.Primary.Saas;
using FfProxy.Tests.Fixtures;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Abstractions;
using static FfProxy.Tests.Metrics.MetricsAggregatorTests;

namespace FfProxy.Tests.Metrics;

/// <summary>Flushing the aggregation queue to SaaS (spec §3.7) through the real SaaS client, on a fake clock.</summary>
public sealed class MetricsForwarderTests : IAsyncLifetime, IAsyncDisposable
{
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(60);

    private readonly RecordingSaas _saas = new();
    private readonly ObservedTimeProvider _time = new();
    private readonly MetricsAggregator _aggregator = new();
    private readonly ProxyTokenHolder _tokens = new();
    private readonly TestMeterFactory _meters = new();
    private readonly RecordedCounters _counters;
    private MetricsForwarder? _forwarder;

    public MetricsForwarderTests()
    {
        _counters = new RecordedCounters(_meters);
        _tokens.Set(new ProxyToken("proxy-jwt", "2", "acc", []));
    }

    [Fact]
    public async Task The_timer_posts_metrics_and_targets_separately_per_environment()
    {
        await StartAsync();
        _aggregator.Add("e1", Request(Entry("f", "true", count: 2), Entry("f", "true", count: 3)) with { TargetData = [new TargetData { Identifier = "u1" }] }, 10);
        _aggregator.Add("e2", Request(Entry("g", "false")), 10);

        await _time.WaitForTimersAsync(1);
        _time.Advance(Interval - TimeSpan.FromSeconds(1));
        Assert.Empty(_saas.Requests);
        _time.Advance(TimeSpan.FromSeconds(1));
        await _saas.WaitForRequestsAsync(3);

        Assert.All(_saas.Requests, r => Assert.Equal("Bearer proxy-jwt", r.Authorization));
        var e1 = _saas.Requests.Where(r => r.Uri.AbsoluteUri == RecordingSaas.MetricService + "/metrics/e1?cluster=2").Select(r => JsonNode.Parse(r.Body)!.AsObject()).ToList();
        Assert.Equal(2, e1.Count);
        var metrics = Assert.Single(e1, b => b.ContainsKey("metricsData"));
        Assert.Equal(["metricsData"], metrics.Select(p => p.Key));
        Assert.Equal(5, Assert.Single(metrics["metricsData"]!.AsArray())!["count"]!.GetValue<int>());
        var targets = Assert.Single(e1, b => b.ContainsKey("targetData"));
        Assert.Equal(["targetData"], targets.Select(p => p.Key));
        Assert.Equal("u1", Assert.Single(targets["targetData"]!.AsArray())!["identifier"]!.GetValue<string>());

        var e2 = Assert.Single(_saas.Requests, r => r.Uri.AbsoluteUri == RecordingSaas.MetricService + "/metrics/e2?cluster=2");
        Assert.Equal("g", JsonNode.Parse(e2.Body)!["metricsData"]![0]!["attributes"]![0]!["value"]!.GetValue<string>());
        Assert.Equal(2, _counters.Count("ff_proxy_metrics_forwarded{envID=e1,error=false}"));
        Assert.Equal(1, _counters.Count("ff_proxy_metrics_forwarded{envID=e2,error=false}"));
    }

    [Fact]
    public async Task A_mebibyte_taken_in_by_the_primary_itself_is_posted_without_waiting_for_the_timer()
    {
        await StartAsync();
        await _time.WaitForTimersAsync(1);
        var intake = new AggregatingMetricsSink(_aggregator);

        await intake.AcceptAsync("e1", Request(Entry("f", "true")), (int)MetricsAggregator.FlushThresholdBytes - 1, default);
        await intake.AcceptAsync("e1", Request(Entry("f", "true")), 1, default);

        await _saas.WaitForRequestsAsync(1);
        Assert.Equal(2, JsonNode.Parse(Assert.Single(_saas.Requests).Body)!["metricsData"]![0]!["count"]!.GetValue<int>());
        Assert.Equal(TimeSpan.Zero, _time.GetUtcNow() - _time.Start);
    }

    [Fact]
    public async Task Zero_seconds_disables_forwarding()
    {
        await StartAsync(metricPostDuration: 0);
        _aggregator.Add("e1", Request(Entry("f", "true")), MetricsAggregator.FlushThresholdBytes);

        await _forwarder!.ExecuteTask!.WaitAsync(TimeSpan.FromSeconds(5));
        _time.Advance(TimeSpan.FromHours(1));
        await _forwarder.StopAsync(default);

        Assert.Empty(_saas.Requests);
    }

    public static TheoryData<string> Failures => ["400", "500", "unreachable"];

    [Theory]
    [MemberData(nameof(Failures))]
    public async Task A_failed_post_is_counted_as_an_error_and_its_batch_dropped(string failure)
    {
        _saas.Answer = (_, _) => failure == "unreachable"
            ? throw new HttpRequestException("connection refused")
            : Task.FromResult((HttpStatusCode)int.Parse(failure, System.Globalization.CultureInfo.InvariantCulture));
        await StartAsync();
        _aggregator.Add("e1", Request(Entry("f", "true")), 10);

        await FlushOnTimerAsync(1);
        var attempts = _saas.Requests.Count;
        Assert.Equal(1, attempts);
        Assert.Equal(1, _counters.Count("ff_proxy_metrics_forwarded{envID=e1,error=true}"));

        _saas.Answer = (_, _) => Task.FromResult(HttpStatusCode.OK);
        await FlushOnTimerAsync(2);
        Assert.Equal(attempts, _saas.Requests.Count);
        Assert.Equal(0, _counters.Count("ff_proxy_metrics_forwarded{envID=e1,error=false}"));
    }

    [Fact]
    public async Task Without_a_token_batches_wait_for_one_and_are_merged_with_what_came_later()
    {
        _tokens.Set(null);
        await StartAsync();
        _aggregator.Add("e1", Request(Entry("f", "true", count: 2)), 10);
        await FlushOnTimerAsync(1);
        _aggregator.Add("e1", Request(Entry("f", "true", count: 3)), 10);
        await FlushOnTimerAsync(2);
        Assert.Empty(_saas.Requests);

        _tokens.Set(new ProxyToken("later-jwt", "2", "acc", []));
        await FlushOnTimerAsync(3);

        var posted = Assert.Single(_saas.Requests);
        Assert.Equal("Bearer later-jwt", posted.Authorization);
        Assert.Equal(5, JsonNode.Parse(posted.Body)!["metricsData"]![0]!["count"]!.GetValue<int>());
        Assert.Equal(0, _counters.Count("ff_proxy_metrics_forwarded{envID=e1,error=true}"));
    }

    [Fact]
    public async Task Batches_that_find_no_token_for_too_long_are_dropped_and_counted()
    {
        _tokens.Set(null);
        await StartAsync();
        _aggregator.Add("e1", Request(Entry("f", "true")), 10);
        for (var flush = 1; flush <= MetricsForwarder.MaxFlushesWithoutToken; flush++)
        {
            Assert.Equal(0, _counters.Count("ff_proxy_metrics_forwarded{envID=e1,error=true}"));
            await FlushOnTimerAsync(flush);
        }

        Assert.Equal(1, _counters.Count("ff_proxy_metrics_forwarded{envID=e1,error=true}"));
        _tokens.Set(new ProxyToken("later-jwt", "2", "acc", []));
        await FlushOnTimerAsync(MetricsForwarder.MaxFlushesWithoutToken + 1);
        Assert.Empty(_saas.Requests);
    }

    [Fact]
    public async Task What_is_left_at_shutdown_is_posted()
    {
        await StartAsync();
        await _time.WaitForTimersAsync(1);
        _aggregator.Add("e1", Request(Entry("f", "true")), 10);

        await _forwarder!.StopAsync(default);

        Assert.Equal(RecordingSaas.MetricService + "/metrics/e1?cluster=2", Assert.Single(_saas.Requests).Uri.AbsoluteUri);
    }

    [Fact]
    public async Task The_shutdown_flush_gives_up_after_its_time_limit()
    {
        var hung = new TaskCompletionSource();
        _saas.Answer = async (_, cancellationToken) =>
        {
            hung.TrySetResult();
            await Task.Delay(Timeout.Infinite, cancellationToken);
            return HttpStatusCode.OK;
        };
        await StartAsync();
        await _time.WaitForTimersAsync(1);
        _aggregator.Add("e1", Request(Entry("f", "true")), 10);

        var stopping = _forwarder!.StopAsync(default);
        await hung.Task.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.False(stopping.IsCompleted);
        _time.Advance(MetricsForwarder.ShutdownFlushTimeout);

        await stopping.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(0, _counters.Count("ff_proxy_metrics_forwarded{envID=e1,error=false}"));
    }

    [Fact]
    public void Registration_feeds_the_queue_only_while_forwarding_is_on_and_reads_the_stream_only_with_redis()
    {
        static List<ServiceDescriptor> Register(ProxyOptions options)
        {
            var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
            builder.AddMetricsForwarding(options);
            return [.. builder.Services];
        }

        static bool Hosts<T>(List<ServiceDescriptor> services) => services.Any(s => s.ServiceType == typeof(IHostedService) && s.ImplementationType == typeof(T));

        var redis = new RedisOptions { Address = "localhost:6379" };
        var on = Register(new ProxyOptions { MetricPostDuration = 60, Redis = redis });
        Assert.Equal(typeof(AggregatingMetricsSink), Assert.Single(on, s => s.ServiceType == typeof(ISdkMetricsSink)).ImplementationType);
        Assert.True(Hosts<MetricsForwarder>(on));
        Assert.True(Hosts<SdkMetricsStreamReader>(on));

        var memory = Register(new ProxyOptions { MetricPostDuration = 60 });
        Assert.False(Hosts<SdkMetricsStreamReader>(memory));

        var off = Register(new ProxyOptions { MetricPostDuration = 0, Redis = redis });
        Assert.DoesNotContain(off, s => s.ServiceType == typeof(ISdkMetricsSink));
        Assert.False(Hosts<SdkMetricsStreamReader>(off));
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        if (_forwarder is { } forwarder)
        {
            _forwarder = null;
            await forwarder.StopAsync(default);
            forwarder.Dispose();
        }

        _counters.Dispose();
        _meters.Dispose();
        _saas.Dispose();
    }

    async ValueTask IAsyncDisposable.DisposeAsync() => await DisposeAsync();

    private async Task StartAsync(int metricPostDuration = 60)
    {
        var options = RecordingSaas.Options(metricPostDuration);
        var metrics = new SaasMetrics(_meters);
        _forwarder = new MetricsForwarder(_aggregator, _saas.Client(options, new SaasRequestMetrics(_meters)), _tokens, metrics, options, _time, NullLogger<MetricsForwarder>.Instance);
        await _forwarder.StartAsync(default);
    }

    /// <summary>Lets the <paramref name="flush"/>-th interval elapse and waits until that flush is over (the next interval has begun).</summary>
    private async Task FlushOnTimerAsync(int flush)
    {
        await _time.WaitForTimersAsync(flush);
        _time.Advance(Interval);
        await _time.WaitForTimersAsync(flush + 1);
    }
}

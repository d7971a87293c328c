using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using FfProxy.Core.Configuration;
using FfProxy.Core.Domain;
using FfProxy.Core.Saas;
using FfProxy.Core.Sdk;
using FfProxy.Tests.Fixtures;
using FfProxy.Tests.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace FfProxy.Tests.Saas;

/// <summary>FORWARD_TARGETS (spec §3.8): targets seen at <c>/client/auth</c> passed on to SaaS, fire and forget.</summary>
public sealed class SaasTargetForwarderTests : IAsyncLifetime, IAsyncDisposable
{
    private readonly RecordingSaas _saas = new();
    private readonly ObservedTimeProvider _time = new();
    private readonly TestMeterFactory _meters = new();
    private readonly CapturedLogs _logs = new();
    private readonly RecordedCounters _counters;
    private readonly ILoggerFactory _loggerFactory;
    private readonly SaasTargetForwarder _forwarder;

    public SaasTargetForwarderTests()
    {
        _loggerFactory = LoggerFactory.Create(logging => logging.AddProvider(_logs));
        _counters = new RecordedCounters(_meters);
        var options = RecordingSaas.Options();
        _forwarder = new SaasTargetForwarder(_saas, options, new SaasRequestMetrics(_meters), _time, _loggerFactory.CreateLogger<SaasTargetForwarder>());
    }

    [Fact]
    public async Task The_sdk_key_and_the_targets_four_fields_are_posted_to_client_auth_and_the_answer_ignored()
    {
        _saas.Answer = (_, _) => Task.FromResult(HttpStatusCode.InternalServerError);
        await _forwarder.StartAsync(default);

        _forwarder.Forward("sdk-key-1", new Target
        {
            Identifier = "u1",
            Name = "User 1",
            Anonymous = false,
            Attributes = new() { ["plan"] = JsonSerializer.SerializeToElement("pro"), ["seats"] = JsonSerializer.SerializeToElement(3) },
            Account = "acc",
            Environment = "e1",
        });
        _forwarder.Forward("sdk-key-1", new Target { Identifier = "u2", Name = "u2" });
        await _saas.WaitForRequestsAsync(2);

        var first = _saas.Requests[0];
        Assert.Equal(HttpMethod.Post, first.Method);
        Assert.Equal(RecordingSaas.ClientService + "/client/auth", first.Uri.AbsoluteUri);
        var expected = JsonNode.Parse("""{"apiKey":"sdk-key-1","target":{"identifier":"u1","name":"User 1","anonymous":false,"attributes":{"plan":"pro","seats":3}}}""");
        Assert.True(JsonNode.DeepEquals(expected, JsonNode.Parse(first.Body)), first.Body);
        Assert.Equal("u2", JsonNode.Parse(_saas.Requests[1].Body)!["target"]!["identifier"]!.GetValue<string>());
        Assert.DoesNotContain("sdk-key-1", _logs.All, StringComparison.Ordinal);
        await Eventually.TrueAsync(() => Task.FromResult(_counters.Count("ff_proxy_to_client_service_requests{code=500,envID=,url=/client/auth}") == 2),
            because: "both forwards were counted with SaaS's answer");
    }

    [Fact]
    public async Task An_unreachable_saas_is_counted_and_logged_without_the_key_and_the_next_target_still_goes_out()
    {
        var first = true;
        _saas.Answer = (_, _) =>
        {
            if (first)
            {
                first = false;
                throw new HttpRequestException("Connection refused (config.saas.test:80)");
            }

            return Task.FromResult(HttpStatusCode.OK);
        };
        await _forwarder.StartAsync(default);
        _forwarder.Forward("sdk-key-1", new Target { Identifier = "lost" });
        _forwarder.Forward("sdk-key-1", new Target { Identifier = "next" });

        await _saas.WaitForRequestsAsync(2);
        await Eventually.TrueAsync(() => Task.FromResult(_counters.Count("ff_proxy_to_client_service_requests{code=200,envID=,url=/client/auth}") == 1),
            because: "the second forward was answered");
        Assert.Equal(1, _counters.Count("ff_proxy_to_client_service_requests{code=0,envID=,url=/client/auth}"));
        Assert.Contains(_logs.Lines, l => l.Contains("Forwarding a target to SaaS failed: Connection refused", StringComparison.Ordinal));
        Assert.DoesNotContain("sdk-key-1", _logs.All, StringComparison.Ordinal);
    }

    [Fact]
    public void Forwarding_is_registered_only_when_asked_for_and_never_offline()
    {
        static IServiceProvider Register(ProxyOptions options)
        {
            var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
            builder.Services.AddSingleton<ITargetForwarder, NoTargetForwarding>();
            builder.Services.AddLogging().AddMetrics();
            builder.Services.AddSingleton(options);
            builder.AddTargetForwarding(options);
            return builder.Services.BuildServiceProvider();
        }

        static ProxyOptions Options(bool forwardTargets, bool offline) =>
            new() { ClientService = new Uri(RecordingSaas.ClientService), ForwardTargets = forwardTargets, Offline = offline };

        static bool HostsForwarder(IServiceProvider services) => services.GetServices<IHostedService>().OfType<SaasTargetForwarder>().Any();

        var on = Register(Options(forwardTargets: true, offline: false));
        Assert.IsType<SaasTargetForwarder>(on.GetRequiredService<ITargetForwarder>());
        Assert.Same(on.GetRequiredService<ITargetForwarder>(), on.GetServices<IHostedService>().OfType<SaasTargetForwarder>().Single());

        var off = Register(Options(forwardTargets: false, offline: false));
        Assert.IsType<NoTargetForwarding>(off.GetRequiredService<ITargetForwarder>());
        Assert.False(HostsForwarder(off));

        var offline = Register(Options(forwardTargets: true, offline: true));
        Assert.IsType<NoTargetForwarding>(offline.GetRequiredService<ITargetForwarder>());
        Assert.False(HostsForwarder(offline));
    }

    [Fact]
    public async Task A_burst_beyond_the_queue_is_dropped_with_a_log_line_and_the_rest_is_sent()
    {
        for (var i = 0; i < SaasTargetForwarder.QueueCapacity + 3; i++)
        {
            _forwarder.Forward("sdk-key-1", new Target { Identifier = $"u{i}" });
        }

        Assert.Equal(3, _logs.Lines.Count(l => l.Contains("queue is full", StringComparison.Ordinal)));
        await _forwarder.StartAsync(default);
        await _saas.WaitForRequestsAsync(SaasTargetForwarder.QueueCapacity);
        Assert.Equal("u999", JsonNode.Parse(_saas.Requests[SaasTargetForwarder.QueueCapacity - 1].Body)!["target"]!["identifier"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_forward_that_hangs_is_abandoned_after_ten_seconds_and_the_next_one_goes_out()
    {
        var hanging = true;
        _saas.Answer = async (_, cancellationToken) =>
        {
            if (hanging)
            {
                hanging = false;
                await Task.Delay(Timeout.Infinite, cancellationToken);
            }

            return HttpStatusCode.OK;
        };
        await _forwarder.StartAsync(default);
        _forwarder.Forward("sdk-key-1", new Target { Identifier = "slow" });
        _forwarder.Forward("sdk-key-1", new Target { Identifier = "next" });
        await _saas.WaitForRequestsAsync(1);
        await _time.WaitForTimersAsync(1);

        _time.Advance(SaasTargetForwarder.Timeout - TimeSpan.FromSeconds(1));
        Assert.Single(_saas.Requests);
        _time.Advance(TimeSpan.FromSeconds(1));

        await _saas.WaitForRequestsAsync(2);
        Assert.Equal("next", JsonNode.Parse(_saas.Requests[1].Body)!["target"]!["identifier"]!.GetValue<string>());
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        await _forwarder.StopAsync(default);
        _forwarder.Dispose();
        _loggerFactory.Dispose();
        _counters.Dispose();
        _meters.Dispose();
        _saas.Dispose();
    }

    async ValueTask IAsyncDisposable.DisposeAsync() => await DisposeAsync();
}

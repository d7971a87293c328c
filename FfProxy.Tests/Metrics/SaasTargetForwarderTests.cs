using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using FfProxy.Core.Domain;
using FfProxy.Primary.Metrics;
using FfProxy.Primary.Saas;
using FfProxy.Tests.Fixtures;
using Microsoft.Extensions.Logging;

namespace FfProxy.Tests.Metrics;

/// <summary>FORWARD_TARGETS (spec §3.8): targets seen at <c>/client/auth</c> passed on to SaaS, fire and forget.</summary>
public sealed class SaasTargetForwarderTests : IAsyncLifetime, IAsyncDisposable
{
    private readonly RecordingSaas _saas = new();
    private readonly ObservedTimeProvider _time = new();
    private readonly TestMeterFactory _meters = new();
    private readonly CapturedLogs _logs = new();
    private readonly ILoggerFactory _loggerFactory;
    private readonly SaasTargetForwarder _forwarder;

    public SaasTargetForwarderTests()
    {
        _loggerFactory = LoggerFactory.Create(logging => logging.AddProvider(_logs));
        var options = RecordingSaas.Options();
        _forwarder = new SaasTargetForwarder(_saas.Client(options, new SaasMetrics(_meters)), _time, _loggerFactory.CreateLogger<SaasTargetForwarder>());
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
        _meters.Dispose();
        _saas.Dispose();
    }

    async ValueTask IAsyncDisposable.DisposeAsync() => await DisposeAsync();
}

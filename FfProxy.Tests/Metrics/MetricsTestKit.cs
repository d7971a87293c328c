using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Net;
using FfProxy.Core.Configuration;
using FfProxy.Core.Saas;
using FfProxy.Primary.Saas;
using FfProxy.Tests.Fixtures;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace FfProxy.Tests.Metrics;

/// <summary>One request the Primary sent to SaaS, read before the response was made.</summary>
internal sealed record SentRequest(HttpMethod Method, Uri Uri, string? Authorization, string Body);

/// <summary>
/// SaaS as an <see cref="IHttpClientFactory"/> whose handler records requests and answers <see cref="Answer"/>, so the
/// real <see cref="HarnessSaasClient"/> builds and sends them.
/// </summary>
internal sealed class RecordingSaas : HttpMessageHandler, IHttpClientFactory
{
    public const string ClientService = "http://config.saas.test/api/1.0";
    public const string MetricService = "http://events.saas.test/api/1.0";

    private readonly ConcurrentQueue<SentRequest> _requests = new();

    /// <summary>What SaaS does with a request: a status code, or throwing to play unreachable.</summary>
    public Func<HttpRequestMessage, CancellationToken, Task<HttpStatusCode>> Answer { get; set; } = (_, _) => Task.FromResult(HttpStatusCode.OK);

    public IReadOnlyList<SentRequest> Requests => [.. _requests];

    public static ProxyOptions Options(int metricPostDuration = 60) =>
        new() { ClientService = new Uri(ClientService), MetricService = new Uri(MetricService), MetricPostDuration = metricPostDuration };

    public HarnessSaasClient Client(ProxyOptions options, SaasRequestMetrics metrics) =>
        new(this, options, Microsoft.Extensions.Options.Options.Create(new SaasTimings()), metrics, TimeProvider.System, NullLogger<HarnessSaasClient>.Instance);

    public HttpClient CreateClient(string name) => new(this, disposeHandler: false);

    public Task WaitForRequestsAsync(int count) =>
        Eventually.TrueAsync(() => Task.FromResult(_requests.Count >= count), TimeSpan.FromSeconds(30), $"{count} requests reached SaaS");

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var body = request.Content is null ? "" : await request.Content.ReadAsStringAsync(cancellationToken);
        _requests.Enqueue(new SentRequest(request.Method, request.RequestUri!, request.Headers.Authorization?.ToString(), body));
        return new HttpResponseMessage(await Answer(request, cancellationToken));
    }
}

/// <summary>
/// A <see cref="FakeTimeProvider"/> that counts the timers asked of it, so a test moves time on only once a
/// background loop is waiting on it (.NET 10 runs <c>ExecuteAsync</c> on its own thread).
/// </summary>
internal sealed class ObservedTimeProvider : FakeTimeProvider
{
    private int _timers;

    public int TimersCreated => Volatile.Read(ref _timers);

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        // Counted once the timer is scheduled. Counted before, a test could see the count, move time on, and only then
        // have the timer scheduled, due an interval after the new time: the loop would never wake (a CI hang, seen
        // once in about ten loaded runs, when the loop ran on another thread than the test).
        var timer = base.CreateTimer(callback, state, dueTime, period);
        Interlocked.Increment(ref _timers);
        return timer;
    }

    /// <summary>
    /// Waits for the loop to reach its next wait. A liveness deadline, not a speed check: the loop needs only a
    /// thread-pool turn, which a fully loaded CI machine has been seen to delay past 5 s.
    /// </summary>
    public Task WaitForTimersAsync(int count) =>
        Eventually.TrueAsync(() => Task.FromResult(TimersCreated >= count), TimeSpan.FromSeconds(30), $"{count} timers were started");
}

/// <summary>Counter increments of the meters one <see cref="IMeterFactory"/> made, as <c>name{tag=value,…}</c> with sorted tags.</summary>
internal sealed class RecordedCounters : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly ConcurrentQueue<string> _seen = new();

    public RecordedCounters(IMeterFactory meters)
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (ReferenceEquals(instrument.Meter.Scope, meters))
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            var labels = string.Join(',', tags.ToArray().Select(t => $"{t.Key}={t.Value}").Order(StringComparer.Ordinal));
            for (var i = 0; i < value; i++)
            {
                _seen.Enqueue($"{instrument.Name}{{{labels}}}");
            }
        });
        _listener.Start();
    }

    public int Count(string counter) => _seen.Count(s => s == counter);

    public void Dispose() => _listener.Dispose();
}

using BenchmarkDotNet.Attributes;

namespace FfProxy.Benchmarks;

/// <summary>
/// One SDK request each, through the whole pipeline. The baseline is <c>/alive</c>, next to nothing behind the
/// in-memory client and server, so the ratios and the difference in allocations are the SDK API's own cost.
/// </summary>
public class SdkRequestBenchmarks
{
    private const string Env = SampleProxy.Environment;
    private SampleProxy _proxy = null!;

    [GlobalSetup]
    public async Task SetupAsync() => _proxy = await SampleProxy.StartAsync();

    [GlobalCleanup]
    public async Task CleanupAsync() => await _proxy.DisposeAsync();

    [Benchmark(Baseline = true, Description = "GET /alive (pipeline baseline)")]
    public Task<int> Alive() => _proxy.GetAsync("/alive");

    [Benchmark(Description = "GET feature-configs (pre-serialized)")]
    public Task<int> FeatureConfigs() => _proxy.GetAsync($"/client/env/{Env}/feature-configs?cluster=1");

    [Benchmark(Description = "GET target-segments?rules=v2 (pre-serialized)")]
    public Task<int> TargetSegments() => _proxy.GetAsync($"/client/env/{Env}/target-segments?cluster=1&rules=v2");

    [Benchmark(Description = "GET evaluations, all flags")]
    public Task<int> AllEvaluations() => _proxy.GetAsync($"/client/env/{Env}/target/staff-1/evaluations?cluster=1");

    [Benchmark(Description = "GET evaluations/{flag}")]
    public Task<int> OneEvaluation() => _proxy.GetAsync($"/client/env/{Env}/target/staff-1/evaluations/checkout_layout?cluster=1");

    [Benchmark(Description = "POST client/auth with a target")]
    public Task<int> Authenticate() => _proxy.PostAsync("/client/auth", SampleProxy.AuthBody);
}

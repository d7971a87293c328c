using BenchmarkDotNet.Attributes;

namespace FfProxy.Benchmarks;

/// <summary>
/// Evaluation requests on the generated 200-flag × 20-group environment, through the whole pipeline: the
/// evaluation cost dominates here, where the sample's 4 flags measure mostly the pipeline.
/// </summary>
public class GeneratedEvaluationBenchmarks
{
    private SampleProxy _proxy = null!;
    private string _directory = "";
    private string _all = "";
    private string _one = "";

    [GlobalSetup]
    public async Task SetupAsync()
    {
        (_proxy, var target, _directory) = await GeneratedEnvironment.StartAsync();
        _all = $"/client/env/{GeneratedEnvironment.Environment}/target/{target}/evaluations?cluster=1";
        _one = $"/client/env/{GeneratedEnvironment.Environment}/target/{target}/evaluations/flag_150?cluster=1";
    }

    [GlobalCleanup]
    public async Task CleanupAsync()
    {
        await _proxy.DisposeAsync();
        Directory.Delete(_directory, recursive: true);
    }

    [Benchmark(Description = "GET evaluations, 200 flags x 20 groups")]
    public Task<int> AllEvaluations() => _proxy.GetAsync(_all);

    [Benchmark(Description = "GET evaluations/{flag}, 200-flag env")]
    public Task<int> OneEvaluation() => _proxy.GetAsync(_one);
}

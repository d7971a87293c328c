using BenchmarkDotNet.Attributes;
using FfProxy.Core.Caching;
using FfProxy.Core.Domain;
using FfProxy.Core.Evaluation;
using Microsoft.Extensions.DependencyInjection;

namespace FfProxy.Benchmarks;

/// <summary>
/// Evaluations on the generated 200-flag × 20-group environment: requests through the whole pipeline, where the
/// evaluation cost dominates (the sample's 4 flags measure mostly the pipeline), and the evaluation alone, by the
/// reference <see cref="Evaluator"/> and by the snapshot's compiled plan writing the response body; and what
/// compiling that plan adds to each snapshot rebuild.
/// </summary>
public class GeneratedEvaluationBenchmarks
{
    private SampleProxy _proxy = null!;
    private string _directory = "";
    private string _all = "";
    private string _one = "";
    private EnvironmentSnapshot _snapshot = null!;
    private Evaluator _evaluator = null!;
    private Target _target = null!;
    private byte[] _body = [];

    [GlobalSetup]
    public async Task SetupAsync()
    {
        (_proxy, _target, _directory) = await GeneratedEnvironment.StartAsync();
        _all = $"/client/env/{GeneratedEnvironment.Environment}/target/{_target.Identifier}/evaluations?cluster=1";
        _one = $"/client/env/{GeneratedEnvironment.Environment}/target/{_target.Identifier}/evaluations/flag_150?cluster=1";
        _snapshot = await _proxy.Services.GetRequiredService<SnapshotCache>().GetAsync(GeneratedEnvironment.Environment, CancellationToken.None);
        _evaluator = _proxy.Services.GetRequiredService<Evaluator>();
        _body = new byte[_snapshot.EvaluationPlan.AllResponseLength];
        if (_snapshot.Flags.Count != 200)
        {
            throw new InvalidOperationException("the generated environment did not load");
        }
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

    [Benchmark(Description = "reference Evaluator, 200 flags (no body)")]
    public int EvaluateAllByReference() => EvaluationBenchmarks.ServedByReference(_evaluator, _snapshot, _target);

    [Benchmark(Description = "evaluation plan, 200 flags into the body")]
    public int WriteAllByPlan() => _snapshot.EvaluationPlan.WriteAll(_target, _body);

    [Benchmark(Description = "compile the evaluation plan, 200 flags x 20 groups")]
    public EvaluationPlan CompilePlan() => EvaluationPlan.Compile(_snapshot.Flags, _snapshot.SegmentForEvaluationById);
}

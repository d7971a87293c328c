using FfProxy.Benchmarks;

namespace FfProxy.Tests.Benchmarks;

/// <summary>
/// Runs every benchmark once, so the benchmarks keep measuring working requests (a route answering 401 or 404 would
/// make a fast, meaningless figure) and keep building with the code they measure.
/// </summary>
public sealed class BenchmarkSmokeTests
{
    [Fact]
    public async Task Every_sdk_request_benchmark_gets_a_successful_answer_with_a_body()
    {
        var benchmarks = new SdkRequestBenchmarks();
        await benchmarks.SetupAsync();
        try
        {
            foreach (var run in (Func<Task<int>>[])[benchmarks.Alive, benchmarks.FeatureConfigs, benchmarks.TargetSegments,
                         benchmarks.AllEvaluations, benchmarks.OneEvaluation, benchmarks.Authenticate])
            {
                Assert.True(await run() > 0, run.Method.Name);
            }
        }
        finally
        {
            await benchmarks.CleanupAsync();
        }
    }

    [Fact]
    public async Task The_evaluation_benchmarks_evaluate_every_sample_flag_and_rebuild_the_snapshot()
    {
        var benchmarks = new EvaluationBenchmarks();
        await benchmarks.SetupAsync();
        try
        {
            Assert.Equal(4, benchmarks.EvaluateAll());
            var rebuilt = await benchmarks.RebuildSnapshot();
            Assert.Equal(4, rebuilt.Flags.Count);
        }
        finally
        {
            await benchmarks.CleanupAsync();
        }
    }

    [Fact]
    public async Task The_generated_environment_benchmarks_answer_and_agree()
    {
        var benchmarks = new GeneratedEvaluationBenchmarks();
        await benchmarks.SetupAsync();
        try
        {
            Assert.True(await benchmarks.AllEvaluations() > 10_000);
            Assert.True(await benchmarks.OneEvaluation() > 0);
            Assert.True(benchmarks.EvaluateAllByReference() > 0);
            Assert.True(benchmarks.WriteAllByPlan() > 10_000);
            Assert.Equal(200, benchmarks.CompilePlan().Count);
        }
        finally
        {
            await benchmarks.CleanupAsync();
        }
    }
}

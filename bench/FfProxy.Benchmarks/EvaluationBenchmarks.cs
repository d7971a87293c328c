using System.Text.Json;
using BenchmarkDotNet.Attributes;
using FfProxy.Core.Caching;
using FfProxy.Core.Domain;
using FfProxy.Core.Evaluation;
using Microsoft.Extensions.DependencyInjection;

namespace FfProxy.Benchmarks;

/// <summary>
/// The work behind a request, without HTTP: evaluating the sample flags for a target (rules, a prerequisite,
/// percentage rollouts) and rebuilding an environment's snapshot, what every change costs each process.
/// </summary>
public class EvaluationBenchmarks
{
    private SampleProxy _proxy = null!;
    private SnapshotCache _snapshots = null!;
    private EnvironmentSnapshot _snapshot = null!;
    private Evaluator _evaluator = null!;
    private Target _target = null!;

    [GlobalSetup]
    public async Task SetupAsync()
    {
        _proxy = await SampleProxy.StartAsync();
        _snapshots = _proxy.Services.GetRequiredService<SnapshotCache>();
        _snapshot = await _snapshots.GetAsync(SampleProxy.Environment, CancellationToken.None);
        _evaluator = _proxy.Services.GetRequiredService<Evaluator>();
        _target = new Target
        {
            Identifier = "staff-1",
            Name = "Staff",
            Attributes = new() { ["email"] = JsonSerializer.SerializeToElement("staff@example.com") },
        };
        if (_snapshot.Flags.Count == 0 || EvaluateAll() != _snapshot.Flags.Count)
        {
            throw new InvalidOperationException("the sample flags did not all evaluate");
        }
    }

    [GlobalCleanup]
    public async Task CleanupAsync() => await _proxy.DisposeAsync();

    [Benchmark(Description = "evaluate every sample flag for a target")]
    public int EvaluateAll() => ServedByReference(_evaluator, _snapshot, _target);

    /// <summary>How many of the snapshot's flags the reference evaluator serves a variation for.</summary>
    internal static int ServedByReference(Evaluator evaluator, EnvironmentSnapshot snapshot, Target target)
    {
        var served = 0;
        foreach (var flag in snapshot.Flags)
        {
            if (evaluator.Evaluate(flag, target, snapshot).Variation is not null)
            {
                served++;
            }
        }

        return served;
    }

    [Benchmark(Description = "rebuild the environment snapshot from the store")]
    public Task<EnvironmentSnapshot> RebuildSnapshot() => _snapshots.RefreshAsync(SampleProxy.Environment, CancellationToken.None);
}

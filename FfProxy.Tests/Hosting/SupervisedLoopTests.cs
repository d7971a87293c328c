using FfProxy.Core.Hosting;
using FfProxy.Tests.Fixtures;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace FfProxy.Tests.Hosting;

/// <summary>No background failure stops a process: a worker's body is restarted after a failure, and the host ignores the rest.</summary>
public sealed class SupervisedLoopTests
{
    [Fact]
    public async Task A_throwing_body_is_logged_and_restarted_until_it_runs()
    {
        using var logs = new CapturedLogs();
        using var loop = new FlakyLoop(failures: 3, logs.CreateLogger("flaky"));
        await loop.StartAsync(CancellationToken.None);

        await loop.Running.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(4, loop.Runs);
        Assert.Equal(3, loop.Restarts);
        Assert.Equal(3, logs.Lines.Count(l => l.Contains("FlakyLoop failed; restarting it in", StringComparison.Ordinal)
            && l.Contains("InvalidOperationException: failure", StringComparison.Ordinal)));

        // Stopping is not a failure.
        await loop.StopAsync(CancellationToken.None);
        Assert.Equal(3, loop.Restarts);
        Assert.True(loop.ExecuteTask!.IsCompletedSuccessfully);
    }

    [Fact]
    public async Task Every_role_ignores_a_failed_background_service_instead_of_stopping()
    {
        await using var primary = PrimaryHost.StartOffline();
        Assert.Equal(BackgroundServiceExceptionBehavior.Ignore, primary.Services.GetRequiredService<IOptions<HostOptions>>().Value.BackgroundServiceExceptionBehavior);
    }

    private sealed class FlakyLoop(int failures, ILogger logger) : SupervisedLoop
    {
        private int _runs;

        public TaskCompletionSource Running { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public int Runs => Volatile.Read(ref _runs);

        protected override TimeProvider Time => TimeProvider.System;

        protected override ILogger Logger => logger;

        protected override TimeSpan FirstBackoff => TimeSpan.FromMilliseconds(10);

        protected override TimeSpan MaxBackoff => TimeSpan.FromMilliseconds(40);

        protected override async Task RunAsync(CancellationToken stoppingToken)
        {
            if (Interlocked.Increment(ref _runs) <= failures)
            {
                throw new InvalidOperationException("failure");
            }

            Running.TrySetResult();
            await Task.Delay(Timeout.Infinite, stoppingToken);
        }
    }
}

namespace FfProxy.Primary.Saas;

/// <summary>
/// One queue per environment: work for an environment runs after the work queued before it for that environment,
/// in the order <see cref="Enqueue"/> was called; different environments run concurrently.
/// </summary>
internal sealed class EnvironmentQueues
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, Task> _tails = new(StringComparer.Ordinal);

    /// <summary>Queues <paramref name="work"/> behind the environment's earlier work; the task ends when it ran.</summary>
    public Task Enqueue(string environment, Func<Task> work)
    {
        Task next;
        lock (_lock)
        {
            var previous = _tails.GetValueOrDefault(environment) ?? Task.CompletedTask;
            next = RunAfterAsync(previous, work);
            _tails[environment] = next;
        }

        _ = next.ContinueWith(
            done =>
            {
                lock (_lock)
                {
                    if (_tails.TryGetValue(environment, out var tail) && tail == done)
                    {
                        _tails.Remove(environment);
                    }
                }
            },
            CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        return next;
    }

    /// <summary>Completes when everything queued so far has run (failures included: they were reported by their callers).</summary>
    public Task DrainAsync()
    {
        Task[] tails;
        lock (_lock)
        {
            tails = [.. _tails.Values];
        }

        return Task.WhenAll(tails).ContinueWith(static _ => { }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    private static async Task RunAfterAsync(Task previous, Func<Task> work)
    {
        // Yields even when the previous work is done, so work never runs under the lock of Enqueue.
        await previous.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing | ConfigureAwaitOptions.ForceYielding);
        await work().ConfigureAwait(false);
    }
}

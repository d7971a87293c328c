namespace FfProxy.Primary.Saas;

/// <summary>
/// Who may change the store at a time: item events of different environments together (shared), a full sync or a
/// proxy-level event alone (exclusive). A waiting exclusive holder is served before new shared ones, so a storm of
/// item events cannot starve a re-sync.
/// </summary>
internal sealed class ChangeGate
{
    private readonly Lock _lock = new();
    private readonly Queue<TaskCompletionSource> _waitingShared = new();
    private readonly Queue<TaskCompletionSource> _waitingExclusive = new();
    private int _shared;
    private bool _exclusive;

    public async Task<Releaser> EnterSharedAsync(CancellationToken cancellationToken)
    {
        TaskCompletionSource waiter;
        lock (_lock)
        {
            if (!_exclusive && _waitingExclusive.Count == 0)
            {
                _shared++;
                return new Releaser(this, exclusive: false);
            }

            waiter = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _waitingShared.Enqueue(waiter);
        }

        await WaitAsync(waiter, cancellationToken).ConfigureAwait(false);
        return new Releaser(this, exclusive: false);
    }

    public async Task<Releaser> EnterExclusiveAsync(CancellationToken cancellationToken)
    {
        TaskCompletionSource waiter;
        lock (_lock)
        {
            if (!_exclusive && _shared == 0)
            {
                _exclusive = true;
                return new Releaser(this, exclusive: true);
            }

            waiter = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _waitingExclusive.Enqueue(waiter);
        }

        await WaitAsync(waiter, cancellationToken).ConfigureAwait(false);
        return new Releaser(this, exclusive: true);
    }

    /// <summary>A cancelled waiter that was granted meanwhile gives its grant back.</summary>
    private static async Task WaitAsync(TaskCompletionSource waiter, CancellationToken cancellationToken)
    {
        using (cancellationToken.Register(static state => ((TaskCompletionSource)state!).TrySetCanceled(), waiter))
        {
            try
            {
                await waiter.Task.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                throw new OperationCanceledException(cancellationToken);
            }
        }
    }

    private void Release(bool exclusive)
    {
        lock (_lock)
        {
            if (exclusive)
            {
                _exclusive = false;
            }
            else
            {
                _shared--;
            }

            Grant();
        }
    }

    /// <summary>Hands the gate to waiters: an exclusive one first once nobody holds it, else every shared one. Call under the lock.</summary>
    private void Grant()
    {
        while (!_exclusive && _shared == 0 && _waitingExclusive.TryDequeue(out var exclusive))
        {
            _exclusive = true;
            if (exclusive.TrySetResult())
            {
                return;
            }

            _exclusive = false; // cancelled meanwhile
        }

        if (_exclusive || _waitingExclusive.Count > 0)
        {
            return;
        }

        while (_waitingShared.TryDequeue(out var shared))
        {
            _shared++;
            if (!shared.TrySetResult())
            {
                _shared--; // cancelled meanwhile
            }
        }
    }

    public readonly struct Releaser : IDisposable
    {
        private readonly ChangeGate? _gate;
        private readonly bool _exclusive;

        internal Releaser(ChangeGate gate, bool exclusive)
        {
            _gate = gate;
            _exclusive = exclusive;
        }

        public void Dispose() => _gate?.Release(_exclusive);
    }
}

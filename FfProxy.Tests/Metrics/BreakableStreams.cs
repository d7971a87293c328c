using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using FfProxy.Core.Messaging;

namespace FfProxy.Tests.Metrics;

/// <summary>
/// <see cref="InMemoryMessageStreams"/> with Redis's failure mode added: <see cref="Break"/> ends the read in
/// progress by throwing, as the Redis implementation does when the connection is lost. Records each read's start id.
/// </summary>
internal sealed class BreakableStreams : IMessageStreams
{
    private readonly InMemoryMessageStreams _inner = new();
    private readonly ConcurrentQueue<string> _reads = new();
    private CancellationTokenSource? _current;
    private Exception? _failure;

    public IReadOnlyList<string> Reads => [.. _reads];

    public Task<string> AppendAsync(string stream, ReadOnlyMemory<byte> payload, int maxLength, CancellationToken cancellationToken) =>
        _inner.AppendAsync(stream, payload, maxLength, cancellationToken);

    public Task<string> NewestIdAsync(string stream, CancellationToken cancellationToken) => _inner.NewestIdAsync(stream, cancellationToken);

    public void Break(Exception failure)
    {
        _failure = failure;
        _current!.Cancel();
    }

    public async IAsyncEnumerable<MessageStreamEntry> ReadAsync(string stream, string afterId, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var broken = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        _current = broken;
        var entries = _inner.ReadAsync(stream, afterId, broken.Token).GetAsyncEnumerator(broken.Token);
        await using (entries)
        {
            // The first MoveNextAsync runs until the inner read has fixed its start, so "$" excludes nothing appended after this.
            var next = entries.MoveNextAsync();
            _reads.Enqueue(afterId);
            while (true)
            {
                try
                {
                    if (!await next)
                    {
                        yield break;
                    }
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    throw _failure!;
                }

                yield return entries.Current;
                next = entries.MoveNextAsync();
            }
        }
    }
}

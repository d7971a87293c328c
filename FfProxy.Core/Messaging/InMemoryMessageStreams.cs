using System.Runtime.CompilerServices;

namespace FfProxy.Core.Messaging;

/// <summary>
/// Streams of a single node (no Redis): the same append/follow semantics as Redis streams, bounded by MAXLEN,
/// with readers woken on append instead of polling.
/// </summary>
internal sealed class InMemoryMessageStreams : IMessageStreams
{
    private readonly Dictionary<string, Log> _streams = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();

    public Task<string> AppendAsync(string stream, ReadOnlyMemory<byte> payload, int maxLength, CancellationToken cancellationToken)
    {
        TaskCompletionSource appended;
        string id;
        lock (_gate)
        {
            var log = GetLog(stream);
            log.Sequence++;
            id = log.Sequence.ToString(System.Globalization.CultureInfo.InvariantCulture) + "-0";
            log.Entries.AddLast(new MessageStreamEntry(id, payload.ToArray()));
            while (log.Entries.Count > Math.Max(1, maxLength))
            {
                log.Entries.RemoveFirst();
            }

            appended = log.Appended;
            log.Appended = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        appended.TrySetResult();
        return Task.FromResult(id);
    }

    public async IAsyncEnumerable<MessageStreamEntry> ReadAsync(string stream, string afterId, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        long last;
        lock (_gate)
        {
            last = afterId == MessageStreamPosition.NewOnly ? GetLog(stream).Sequence : Sequence(afterId);
        }

        while (!cancellationToken.IsCancellationRequested)
        {
            List<MessageStreamEntry> batch;
            Task wake;
            lock (_gate)
            {
                var log = GetLog(stream);
                batch = [.. log.Entries.Where(e => Sequence(e.Id) > last)];
                wake = log.Appended.Task;
            }

            foreach (var entry in batch)
            {
                last = Sequence(entry.Id);
                yield return entry;
            }

            if (batch.Count == 0)
            {
                await wake.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
        }
    }

    public Task<string> NewestIdAsync(string stream, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            return Task.FromResult(GetLog(stream).Sequence.ToString(System.Globalization.CultureInfo.InvariantCulture) + "-0");
        }
    }

    private Log GetLog(string stream)
    {
        if (!_streams.TryGetValue(stream, out var log))
        {
            log = new Log();
            _streams[stream] = log;
        }

        return log;
    }

    private static long Sequence(string id)
    {
        var dash = id.IndexOf('-', StringComparison.Ordinal);
        return long.TryParse(dash < 0 ? id : id[..dash], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var value) ? value : 0;
    }

    private sealed class Log
    {
        public long Sequence { get; set; }
        public LinkedList<MessageStreamEntry> Entries { get; } = new();
        public TaskCompletionSource Appended { get; set; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}

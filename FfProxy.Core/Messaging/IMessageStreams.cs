namespace FfProxy.Core.Messaging;

/// <summary>
/// The Redis streams of spec §4.3 (<c>proxy:sse_events</c>, the control stream, <c>stream:sdk_metrics</c>):
/// append with an exact MAXLEN, and read in order without consumer groups, so every reader sees every entry.
/// Implementations throw <see cref="Caching.StoreUnavailableException"/> when the store cannot be reached.
/// </summary>
public interface IMessageStreams
{
    /// <summary><c>XADD stream MAXLEN maxLength * event payload</c>; returns the entry id.</summary>
    Task<string> AppendAsync(string stream, ReadOnlyMemory<byte> payload, int maxLength, CancellationToken cancellationToken);

    /// <summary>
    /// Entries after <paramref name="afterId"/> (<see cref="MessageStreamPosition.NewOnly"/> = only entries appended
    /// from now on), waiting for new ones until cancelled. Ends by throwing when the store is lost; the caller
    /// backs off and reads again from the last id it saw.
    /// </summary>
    IAsyncEnumerable<MessageStreamEntry> ReadAsync(string stream, string afterId, CancellationToken cancellationToken);

    /// <summary>
    /// What <see cref="MessageStreamPosition.NewOnly"/> stands for now: the id of the newest entry, or <c>0-0</c>
    /// when the stream is empty or missing. A reader that must not lose entries across a resubscription fixes its
    /// start with this once, instead of reading from <c>$</c> again.
    /// </summary>
    Task<string> NewestIdAsync(string stream, CancellationToken cancellationToken);
}

/// <summary>One stream entry: its id and the value of its <c>event</c> field.</summary>
public readonly record struct MessageStreamEntry(string Id, ReadOnlyMemory<byte> Payload);

public static class MessageStreamPosition
{
    /// <summary>Redis's <c>$</c>: start after the last entry that exists when reading begins.</summary>
    public const string NewOnly = "$";
}

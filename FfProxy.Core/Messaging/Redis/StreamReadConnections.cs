using System.Collections.Concurrent;
using StackExchange.Redis;

namespace FfProxy.Core.Messaging.Redis;

/// <summary>
/// Connections that only blocking stream reads use. <c>XREAD BLOCK</c> holds its connection until an entry arrives
/// or the block time ends, and a multiplexed connection runs its commands in order: on the shared multiplexer it
/// would hold up every other command of the process. So each reader rents a multiplexer of its own, made from the
/// same configuration (TLS, credentials, cluster nodes) and reconnecting by itself as the shared one does; it goes
/// back to the pool when the reader ends, so a process opens as many as it has concurrent readers (two on a
/// Replica, one on a Primary).
/// </summary>
internal sealed class StreamReadConnections : IAsyncDisposable
{
    private readonly ConfigurationOptions _configuration;
    private readonly ConcurrentBag<ConnectionMultiplexer> _idle = [];
    private readonly ConcurrentBag<Task<ConnectionMultiplexer>> _opened = [];
    private volatile bool _disposed;

    public StreamReadConnections(ConfigurationOptions configuration)
    {
        _configuration = configuration.Clone();
        _configuration.ClientName = (configuration.ClientName ?? "ffproxy") + "-stream-reader";

        // A blocked XREAD answers when its block time ends; it must do so well within the command timeout, or an
        // empty read would be reported as a timeout. The block time also bounds how long a cancelled read keeps
        // its connection busy.
        BlockTime = TimeSpan.FromMilliseconds(Math.Clamp(_configuration.AsyncTimeout / 3, 100, 1000));
    }

    /// <summary>How long one <c>XREAD BLOCK</c> waits for an entry before it is sent again.</summary>
    public TimeSpan BlockTime { get; }

    /// <summary>
    /// A connection for one reader. It may still be connecting (Redis down): commands then fail with the timeout
    /// of the configuration, as on the shared multiplexer, while it keeps reconnecting.
    /// </summary>
    public async Task<ConnectionMultiplexer> RentAsync(CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_idle.TryTake(out var idle))
        {
            return idle;
        }

        // AbortOnConnectFail is off (RedisConnection.Apply): this returns after the dial timeout even without Redis.
        var opening = ConnectionMultiplexer.ConnectAsync(_configuration.Clone());
        _opened.Add(opening);
        try
        {
            return await opening.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // The reader stopped while connecting: the connection joins the pool once it exists.
            _ = opening.ContinueWith(static (task, state) => ((StreamReadConnections)state!).Return(task.Result), this,
                CancellationToken.None, TaskContinuationOptions.OnlyOnRanToCompletion | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            throw;
        }
    }

    /// <summary>Gives a connection back once its reader has ended; a read it left blocked finishes within <see cref="BlockTime"/>.</summary>
    public void Return(ConnectionMultiplexer connection)
    {
        if (_disposed)
        {
            connection.Dispose();
            return;
        }

        _idle.Add(connection);
    }

    public async ValueTask DisposeAsync()
    {
        _disposed = true;
        foreach (var opening in _opened)
        {
            try
            {
                await (await opening.ConfigureAwait(false)).DisposeAsync().ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is RedisConnectionException or ObjectDisposedException)
            {
                // It never connected, or is gone already.
            }
        }
    }
}

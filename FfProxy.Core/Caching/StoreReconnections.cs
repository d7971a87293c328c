using System.Threading.Channels;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace FfProxy.Core.Caching;

/// <summary>
/// Signals that the connection to Redis was restored. A restarted Redis may have come back empty, so whoever keeps
/// the store filled checks it at once instead of at its next periodic verification. Never signals for the in-process
/// store.
/// </summary>
public sealed partial class StoreReconnections : IDisposable
{
    private readonly Channel<bool> _restored = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
    private readonly IConnectionMultiplexer? _redis;
    private readonly ILogger<StoreReconnections> _logger;

    public StoreReconnections(IServiceProvider services, ILogger<StoreReconnections> logger)
    {
        _logger = logger;
        _redis = services.GetService<IConnectionMultiplexer>();
        if (_redis is not null)
        {
            _redis.ConnectionRestored += OnRestored;
        }
    }

    /// <summary>Completes at the next restored connection (or at once if one happened since the last wait).</summary>
    public async Task WaitAsync(CancellationToken cancellationToken) =>
        await _restored.Reader.ReadAsync(cancellationToken).ConfigureAwait(false);

    public void Dispose()
    {
        if (_redis is not null)
        {
            _redis.ConnectionRestored -= OnRestored;
        }
    }

    private void OnRestored(object? sender, ConnectionFailedEventArgs e)
    {
        LogRestored(_logger, e.ConnectionType);
        _restored.Writer.TryWrite(true);
    }

    [LoggerMessage(EventId = LogEventIds.Caching.Restored, Level = LogLevel.Information, Message = "Redis connection ({ConnectionType}) restored; checking the store")]
    private static partial void LogRestored(ILogger logger, ConnectionType connectionType);
}

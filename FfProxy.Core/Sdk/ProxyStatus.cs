namespace FfProxy.Core.Sdk;

/// <summary>Values of <c>configStatus.state</c> in <c>/health</c>.</summary>
public static class ConfigStates
{
    public const string Synced = "SYNCED";
    public const string FailedToSync = "FAILED_TO_SYNC";
    public const string ReadReplica = "READ_REPLICA";
}

/// <summary>Values of <c>streamStatus.state</c> in <c>/health</c>, also the state the SDK stream gate uses.</summary>
public static class AccountStreamStates
{
    public const string Initializing = "INITIALIZING";
    public const string Connected = "CONNECTED";
    public const string Disconnected = "DISCONNECTED";
}

/// <summary>A state and when it last changed (epoch milliseconds).</summary>
public readonly record struct StateSince(string State, long Since);

/// <summary>
/// What <c>/health</c> reports and what gates <c>/stream</c>: the first sync, the upstream stream (the
/// Primary's SaaS stream, or what the Primary told a Replica), and whether the store answers.
/// </summary>
public sealed class ProxyStatus(TimeProvider time)
{
    private readonly Lock _gate = new();
    private StateSince _config = new(ConfigStates.Synced, time.GetUtcNow().ToUnixTimeMilliseconds());
    private StateSince _stream = new(AccountStreamStates.Initializing, time.GetUtcNow().ToUnixTimeMilliseconds());
    private volatile bool _cacheHealthy = true;

    public StateSince Config
    {
        get { lock (_gate) { return _config; } }
    }

    public StateSince Stream
    {
        get { lock (_gate) { return _stream; } }
    }

    public bool CacheHealthy => _cacheHealthy;

    /// <summary>SDK streams are only served while upstream changes can reach them.</summary>
    public bool StreamingAvailable => Stream.State == AccountStreamStates.Connected;

    public void SetConfig(string state)
    {
        lock (_gate)
        {
            if (_config.State != state)
            {
                _config = new StateSince(state, time.GetUtcNow().ToUnixTimeMilliseconds());
            }
        }
    }

    /// <summary>Sets the stream state; returns true when it changed.</summary>
    public bool SetStream(string state)
    {
        lock (_gate)
        {
            if (_stream.State == state)
            {
                return false;
            }

            _stream = new StateSince(state, time.GetUtcNow().ToUnixTimeMilliseconds());
            return true;
        }
    }

    public void SetCacheHealthy(bool healthy) => _cacheHealthy = healthy;
}

namespace FfProxy.Core.Configuration;

/// <summary>
/// The documented environment variables (spec §6), bound once at start. Names and defaults follow the
/// Go proxy so existing deployments keep their configuration.
/// </summary>
public sealed class ProxyOptions
{
    public const string DefaultAuthSecret = "secret";

    public string ProxyKey { get; init; } = "";
    public bool ReadReplica { get; init; }
    public string AuthSecret { get; init; } = DefaultAuthSecret;
    public IReadOnlyList<string> LegacySecrets { get; init; } = [];
    public Uri ClientService { get; init; } = new("https://config.ff.harness.io/api/1.0");
    public Uri MetricService { get; init; } = new("https://events.ff.harness.io/api/1.0");

    /// <summary>Seconds between metric flushes to SaaS; 0 disables forwarding.</summary>
    public int MetricPostDuration { get; init; } = 60;

    /// <summary>Seconds between self health checks; 0 disables them.</summary>
    public int HeartbeatInterval { get; init; } = 60;

    public bool ForwardTargets { get; init; }

    /// <summary>Port the proxy listens on when no URL is configured by the host (e.g. Aspire).</summary>
    public int Port { get; init; } = 7000;

    /// <summary>True when PORT was set explicitly, which then wins over host-provided URLs.</summary>
    public bool PortExplicit { get; init; }

    public bool TlsEnabled { get; init; }
    public string TlsCert { get; init; } = "";
    public string TlsKey { get; init; } = "";

    /// <summary>Port of the Prometheus <c>/metrics</c> endpoint; equal to <see cref="Port"/> unless set.</summary>
    public int PrometheusPort { get; init; } = 7000;

    public bool BypassAuth { get; init; }
    public string LogLevel { get; init; } = "INFO";
    public int MetricsStreamMaxLen { get; init; } = 1000;
    public int MetricStreamReadConcurrency { get; init; } = 10;
    public bool AndRules { get; init; }
    public bool Offline { get; init; }
    public string ConfigDir { get; init; } = "/config";
    public bool GenerateOfflineConfig { get; init; }

    public RedisOptions Redis { get; init; } = new();

    /// <summary>True when SDK data lives in this process only (no REDIS_ADDRESS).</summary>
    public bool InMemoryStore => string.IsNullOrWhiteSpace(Redis.Address);
}

/// <summary>Redis connection settings (spec §6.1 and §6.2).</summary>
public sealed class RedisOptions
{
    public string Address { get; init; } = "";
    public string Password { get; init; } = "";
    public string Username { get; init; } = "";
    public int Db { get; init; }
    public int PoolSize { get; init; } = 10;
    public int PoolSizeLiteral { get; init; }
    public int MaxRetries { get; init; } = 3;
    public int MinRetryBackoffMillis { get; init; } = 8;
    public int MaxRetryBackoffMillis { get; init; } = 512;
    public int DialTimeoutSeconds { get; init; } = 5;
    public int ReadTimeoutSeconds { get; init; } = 3;
    public int WriteTimeoutSeconds { get; init; } = 3;
    public int PoolTimeoutSeconds { get; init; } = 4;
    public int MinIdleConns { get; init; }
    public int MaxIdleConns { get; init; }
    public int MaxActiveConns { get; init; }
    public int ConMaxIdleTimeMinutes { get; init; } = 30;
    public int ConMaxLifetimeMinutes { get; init; }
    public bool TlsEnabled { get; init; }
    public string TlsMode { get; init; } = "tls";
    public string TlsCaCert { get; init; } = "";
    public string TlsClientCert { get; init; } = "";
    public string TlsClientKey { get; init; } = "";
    public bool TlsInsecureSkipVerify { get; init; }
    public string TlsServerName { get; init; } = "";

    /// <summary>
    /// go-redis connection-pool variables: StackExchange.Redis multiplexes every command over one connection per
    /// Redis node, so there is no pool to size, wait for, keep idle or expire. Accepted for compatibility, ignored.
    /// </summary>
    public static readonly IReadOnlyList<string> PoolVariables =
    [
        "REDIS_POOL_SIZE", "REDIS_POOL_SIZE_LITERAL", "REDIS_POOL_TIMEOUT_SECONDS", "REDIS_MIN_IDLE_CONNS",
        "REDIS_MAX_IDLE_CONNS", "REDIS_MAX_ACTIVE_CONNS", "REDIS_CON_MAX_IDLE_TIME_MINUTES", "REDIS_CON_MAX_LIFETIME_MINUTES",
    ];

    /// <summary>The <see cref="PoolVariables"/> this process was given (logged once at start as ignored).</summary>
    public IReadOnlyList<string> IgnoredPoolVariables { get; init; } = [];
}

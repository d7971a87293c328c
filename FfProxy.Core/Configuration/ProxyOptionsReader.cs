using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;

namespace FfProxy.Core.Configuration;

/// <summary>
/// Reads <see cref="ProxyOptions"/> from configuration keys named exactly like the documented environment
/// variables and collects every problem, so one start-up failure names every bad variable at once.
/// </summary>
internal static class ProxyOptionsReader
{
    public static ProxyOptions Read(IConfiguration configuration)
    {
        var errors = new List<string>();
        var reader = new VariableReader(configuration, errors);

        // Each default is written once, in the options classes; an unset variable keeps it.
        var d = new ProxyOptions();
        var r = d.Redis;
        var port = reader.Port("PORT", d.Port);
        var offline = reader.Bool("OFFLINE", d.Offline);
        var readReplica = reader.Bool("READ_REPLICA", d.ReadReplica);
        var generateOffline = reader.Bool("GENERATE_OFFLINE_CONFIG", d.GenerateOfflineConfig);
        var options = new ProxyOptions
        {
            // Secrets often arrive with a stray newline from a mounted file.
            ProxyKey = (reader.String("PROXY_KEY", d.ProxyKey)).Trim(),
            ReadReplica = readReplica,
            AuthSecret = reader.String("AUTH_SECRET", d.AuthSecret),
            LegacySecrets = reader.List("LEGACY_SECRETS"),
            ClientService = reader.Url("CLIENT_SERVICE", d.ClientService),
            MetricService = reader.Url("METRIC_SERVICE", d.MetricService),
            MetricPostDuration = reader.Int("METRIC_POST_DURATION", d.MetricPostDuration, min: 0),
            HeartbeatInterval = reader.Int("HEARTBEAT_INTERVAL", d.HeartbeatInterval, min: 0),
            ForwardTargets = reader.Bool("FORWARD_TARGETS", d.ForwardTargets),
            Port = port,
            PortExplicit = reader.IsSet("PORT"),
            TlsEnabled = reader.Bool("TLS_ENABLED", d.TlsEnabled),
            TlsCert = reader.String("TLS_CERT", d.TlsCert),
            TlsKey = reader.String("TLS_KEY", d.TlsKey),
            PrometheusPort = reader.Port("PROMETHEUS_PORT", port),
            BypassAuth = reader.Bool("BYPASS_AUTH", d.BypassAuth),
            LogLevel = reader.OneOf("LOG_LEVEL", d.LogLevel, "INFO", "DEBUG", "ERROR", "WARN"),
            MetricsStreamMaxLen = reader.Int("METRICS_STREAM_MAX_LEN", d.MetricsStreamMaxLen, min: 1),
            MetricStreamReadConcurrency = reader.Int("METRIC_STREAM_READ_CONCURRENCY", d.MetricStreamReadConcurrency, min: 1),
            AndRules = reader.Bool("AND_RULES", d.AndRules),
            Offline = offline,
            ConfigDir = reader.String("CONFIG_DIR", d.ConfigDir),
            GenerateOfflineConfig = generateOffline,
            Redis = new RedisOptions
            {
                Address = reader.String("REDIS_ADDRESS", r.Address),
                Password = reader.String("REDIS_PASSWORD", r.Password),
                Username = reader.String("REDIS_USERNAME", r.Username),
                Db = reader.Int("REDIS_DB", r.Db, min: 0),
                PoolSize = reader.Int("REDIS_POOL_SIZE", r.PoolSize, min: 1),
                PoolSizeLiteral = reader.Int("REDIS_POOL_SIZE_LITERAL", r.PoolSizeLiteral, min: 0),
                MaxRetries = reader.Int("REDIS_MAX_RETRIES", r.MaxRetries, min: 0),
                MinRetryBackoffMillis = reader.Int("REDIS_MIN_RETRY_BACKOFF_MILLIS", r.MinRetryBackoffMillis, min: 0),
                MaxRetryBackoffMillis = reader.Int("REDIS_MAX_RETRY_BACKOFF_MILLIS", r.MaxRetryBackoffMillis, min: 0),
                DialTimeoutSeconds = reader.Int("REDIS_DIAL_TIMEOUT_SECONDS", r.DialTimeoutSeconds, min: 1),
                ReadTimeoutSeconds = reader.Int("REDIS_READ_TIMEOUT_SECONDS", r.ReadTimeoutSeconds, min: 1),
                WriteTimeoutSeconds = reader.Int("REDIS_WRITE_TIMEOUT_SECONDS", r.WriteTimeoutSeconds, min: 1),
                PoolTimeoutSeconds = reader.Int("REDIS_POOL_TIMEOUT_SECONDS", r.PoolTimeoutSeconds, min: 0),
                MinIdleConns = reader.Int("REDIS_MIN_IDLE_CONNS", r.MinIdleConns, min: 0),
                MaxIdleConns = reader.Int("REDIS_MAX_IDLE_CONNS", r.MaxIdleConns, min: 0),
                MaxActiveConns = reader.Int("REDIS_MAX_ACTIVE_CONNS", r.MaxActiveConns, min: 0),
                ConMaxIdleTimeMinutes = reader.Int("REDIS_CON_MAX_IDLE_TIME_MINUTES", r.ConMaxIdleTimeMinutes, min: 0),
                ConMaxLifetimeMinutes = reader.Int("REDIS_CON_MAX_LIFETIME_MINUTES", r.ConMaxLifetimeMinutes, min: 0),
                TlsEnabled = reader.Bool("REDIS_TLS_ENABLED", r.TlsEnabled),
                TlsMode = reader.OneOf("REDIS_TLS_MODE", r.TlsMode, "tls", "mtls"),
                TlsCaCert = reader.String("REDIS_TLS_CA_CERT", r.TlsCaCert),
                TlsClientCert = reader.String("REDIS_TLS_CLIENT_CERT", r.TlsClientCert),
                TlsClientKey = reader.String("REDIS_TLS_CLIENT_KEY", r.TlsClientKey),
                TlsInsecureSkipVerify = reader.Bool("REDIS_TLS_INSECURE_SKIP_VERIFY", r.TlsInsecureSkipVerify),
                TlsServerName = reader.String("REDIS_TLS_SERVER_NAME", r.TlsServerName),
                IgnoredPoolVariables = [.. RedisOptions.PoolVariables.Where(reader.IsSet)],
            },
        };

        Validate(options, errors);
        if (errors.Count > 0)
        {
            throw new ProxyConfigurationException(errors);
        }

        return options;
    }

    private static void Validate(ProxyOptions o, List<string> errors)
    {
        if (o.AuthSecret.Length == 0)
        {
            errors.Add("AUTH_SECRET: must not be empty; every proxy instance signs SDK tokens with it.");
        }

        if (o.Offline && o.GenerateOfflineConfig)
        {
            errors.Add("GENERATE_OFFLINE_CONFIG: cannot be combined with OFFLINE=true; the export needs an online proxy to read from.");
        }

        if (!o.Offline && !o.ReadReplica && o.ProxyKey.Length == 0)
        {
            errors.Add("PROXY_KEY: required for an online Primary (or set OFFLINE=true with CONFIG_DIR to serve an offline configuration directory).");
        }

        if (o.Offline && !Directory.Exists(o.ConfigDir))
        {
            errors.Add($"CONFIG_DIR: directory '{o.ConfigDir}' does not exist; offline mode serves the configuration found there.");
        }

        if (o.ReadReplica && o.InMemoryStore)
        {
            errors.Add("REDIS_ADDRESS: required when READ_REPLICA=true; a Read Replica serves what the Primary writes to Redis.");
        }

        if (o.TlsEnabled)
        {
            if (o.TlsCert.Length == 0 || !File.Exists(o.TlsCert))
            {
                errors.Add($"TLS_CERT: TLS_ENABLED=true needs a readable PEM certificate file (got '{o.TlsCert}').");
            }

            if (o.TlsKey.Length == 0 || !File.Exists(o.TlsKey))
            {
                errors.Add($"TLS_KEY: TLS_ENABLED=true needs a readable PEM private key file (got '{o.TlsKey}').");
            }
        }

        if (o.Redis.MaxRetryBackoffMillis < o.Redis.MinRetryBackoffMillis)
        {
            errors.Add($"REDIS_MAX_RETRY_BACKOFF_MILLIS: {o.Redis.MaxRetryBackoffMillis} is below REDIS_MIN_RETRY_BACKOFF_MILLIS ({o.Redis.MinRetryBackoffMillis}).");
        }

        if (o.Redis.TlsMode == "mtls" && (o.Redis.TlsClientCert.Length == 0 || o.Redis.TlsClientKey.Length == 0))
        {
            errors.Add("REDIS_TLS_MODE: mtls needs REDIS_TLS_CLIENT_CERT and REDIS_TLS_CLIENT_KEY.");
        }
    }

    /// <summary>Typed access to one variable at a time; a bad value adds an error naming the variable.</summary>
    private sealed class VariableReader(IConfiguration configuration, List<string> errors)
    {
        public bool IsSet(string name) => !string.IsNullOrEmpty(configuration[name]);

        public string String(string name, string fallback)
        {
            var value = configuration[name];
            return string.IsNullOrEmpty(value) ? fallback : value;
        }

        public string[] List(string name) =>
            String(name, "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

        /// <summary>Go's strconv.ParseBool syntax (<see cref="GoBoolean"/>), which the Go proxy's flags accept.</summary>
        public bool Bool(string name, bool fallback)
        {
            var value = configuration[name];
            if (string.IsNullOrEmpty(value))
            {
                return fallback;
            }

            if (GoBoolean.TryParse(value, out var parsed))
            {
                return parsed;
            }

            errors.Add(GoBoolean.Problem(name, value));
            return fallback;
        }

        public int Int(string name, int fallback, int min)
        {
            var value = configuration[name];
            if (string.IsNullOrEmpty(value))
            {
                return fallback;
            }

            if (!int.TryParse(value.Trim(), System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out var parsed))
            {
                errors.Add($"{name}: '{value}' is not a whole number.");
                return fallback;
            }

            if (parsed < min)
            {
                errors.Add($"{name}: {parsed} is below the minimum of {min}.");
                return fallback;
            }

            return parsed;
        }

        public int Port(string name, int fallback)
        {
            var port = Int(name, fallback, min: 0);
            if (port is < 1 or > 65535 && IsSet(name))
            {
                errors.Add($"{name}: {port} is not a TCP port (1-65535).");
                return fallback;
            }

            return port;
        }

        public Uri Url(string name, Uri fallback)
        {
            var value = configuration[name];
            if (string.IsNullOrEmpty(value))
            {
                return fallback;
            }

            value = value.TrimEnd('/');
            if (Uri.TryCreate(value, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps))
            {
                return uri;
            }

            errors.Add($"{name}: '{value}' is not an absolute http or https URL.");
            return fallback;
        }

        public string OneOf(string name, string fallback, params string[] allowed)
        {
            var value = String(name, fallback);
            foreach (var candidate in allowed)
            {
                if (string.Equals(candidate, value, StringComparison.OrdinalIgnoreCase))
                {
                    return candidate;
                }
            }

            errors.Add($"{name}: '{value}' is not one of {string.Join(", ", allowed)}.");
            return fallback;
        }
    }
}

/// <summary>Thrown when one or more documented variables hold a bad value; the message names each one.</summary>
public sealed class ProxyConfigurationException(IReadOnlyList<string> problems)
    : Exception("Invalid configuration:" + Environment.NewLine + "  " + string.Join(Environment.NewLine + "  ", problems))
{
    public IReadOnlyList<string> Problems { get; } = problems;
}

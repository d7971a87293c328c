using Microsoft.Extensions.Configuration;

namespace FfProxy.Core.Configuration;

/// <summary>
/// Reads <see cref="ProxyOptions"/> from configuration keys named exactly like the documented environment
/// variables and collects every problem, so one start-up failure names every bad variable at once.
/// </summary>
public static class ProxyOptionsReader
{
    public static ProxyOptions Read(IConfiguration configuration)
    {
        var errors = new List<string>();
        var reader = new VariableReader(configuration, errors);

        var port = reader.Port("PORT", 7000);
        var offline = reader.Bool("OFFLINE", false);
        var readReplica = reader.Bool("READ_REPLICA", false);
        var generateOffline = reader.Bool("GENERATE_OFFLINE_CONFIG", false);
        var options = new ProxyOptions
        {
            // Secrets often arrive with a stray newline from a mounted file.
            ProxyKey = (reader.String("PROXY_KEY", "")).Trim(),
            ReadReplica = readReplica,
            AuthSecret = reader.String("AUTH_SECRET", ProxyOptions.DefaultAuthSecret),
            LegacySecrets = reader.List("LEGACY_SECRETS"),
            ClientService = reader.Url("CLIENT_SERVICE", "https://config.ff.harness.io/api/1.0"),
            MetricService = reader.Url("METRIC_SERVICE", "https://events.ff.harness.io/api/1.0"),
            MetricPostDuration = reader.Int("METRIC_POST_DURATION", 60, min: 0),
            HeartbeatInterval = reader.Int("HEARTBEAT_INTERVAL", 60, min: 0),
            ForwardTargets = reader.Bool("FORWARD_TARGETS", false),
            Port = port,
            PortExplicit = reader.IsSet("PORT"),
            TlsEnabled = reader.Bool("TLS_ENABLED", false),
            TlsCert = reader.String("TLS_CERT", ""),
            TlsKey = reader.String("TLS_KEY", ""),
            PrometheusPort = reader.Port("PROMETHEUS_PORT", port),
            BypassAuth = reader.Bool("BYPASS_AUTH", false),
            LogLevel = reader.OneOf("LOG_LEVEL", "INFO", "INFO", "DEBUG", "ERROR", "WARN"),
            MetricsStreamMaxLen = reader.Int("METRICS_STREAM_MAX_LEN", 1000, min: 1),
            MetricStreamReadConcurrency = reader.Int("METRIC_STREAM_READ_CONCURRENCY", 10, min: 1),
            AndRules = reader.Bool("AND_RULES", false),
            Offline = offline,
            ConfigDir = reader.String("CONFIG_DIR", "/config"),
            GenerateOfflineConfig = generateOffline,
            Redis = new RedisOptions
            {
                Address = reader.String("REDIS_ADDRESS", ""),
                Password = reader.String("REDIS_PASSWORD", ""),
                Username = reader.String("REDIS_USERNAME", ""),
                Db = reader.Int("REDIS_DB", 0, min: 0),
                PoolSize = reader.Int("REDIS_POOL_SIZE", 10, min: 1),
                PoolSizeLiteral = reader.Int("REDIS_POOL_SIZE_LITERAL", 0, min: 0),
                MaxRetries = reader.Int("REDIS_MAX_RETRIES", 3, min: 0),
                MinRetryBackoffMillis = reader.Int("REDIS_MIN_RETRY_BACKOFF_MILLIS", 8, min: 0),
                MaxRetryBackoffMillis = reader.Int("REDIS_MAX_RETRY_BACKOFF_MILLIS", 512, min: 0),
                DialTimeoutSeconds = reader.Int("REDIS_DIAL_TIMEOUT_SECONDS", 5, min: 1),
                ReadTimeoutSeconds = reader.Int("REDIS_READ_TIMEOUT_SECONDS", 3, min: 1),
                WriteTimeoutSeconds = reader.Int("REDIS_WRITE_TIMEOUT_SECONDS", 3, min: 1),
                PoolTimeoutSeconds = reader.Int("REDIS_POOL_TIMEOUT_SECONDS", 4, min: 0),
                MinIdleConns = reader.Int("REDIS_MIN_IDLE_CONNS", 0, min: 0),
                MaxIdleConns = reader.Int("REDIS_MAX_IDLE_CONNS", 0, min: 0),
                MaxActiveConns = reader.Int("REDIS_MAX_ACTIVE_CONNS", 0, min: 0),
                ConMaxIdleTimeMinutes = reader.Int("REDIS_CON_MAX_IDLE_TIME_MINUTES", 30, min: 0),
                ConMaxLifetimeMinutes = reader.Int("REDIS_CON_MAX_LIFETIME_MINUTES", 0, min: 0),
                TlsEnabled = reader.Bool("REDIS_TLS_ENABLED", false),
                TlsMode = reader.OneOf("REDIS_TLS_MODE", "tls", "tls", "mtls"),
                TlsCaCert = reader.String("REDIS_TLS_CA_CERT", ""),
                TlsClientCert = reader.String("REDIS_TLS_CLIENT_CERT", ""),
                TlsClientKey = reader.String("REDIS_TLS_CLIENT_KEY", ""),
                TlsInsecureSkipVerify = reader.Bool("REDIS_TLS_INSECURE_SKIP_VERIFY", false),
                TlsServerName = reader.String("REDIS_TLS_SERVER_NAME", ""),
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

        /// <summary>Go's strconv.ParseBool syntax, which the Go proxy's flags accept.</summary>
        public bool Bool(string name, bool fallback)
        {
            var value = configuration[name];
            if (string.IsNullOrEmpty(value))
            {
                return fallback;
            }

            switch (value.Trim())
            {
                case "1" or "t" or "T" or "true" or "TRUE" or "True":
                    return true;
                case "0" or "f" or "F" or "false" or "FALSE" or "False":
                    return false;
                default:
                    errors.Add($"{name}: '{value}' is not a boolean; use true or false.");
                    return fallback;
            }
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

        public Uri Url(string name, string fallback)
        {
            var value = String(name, fallback).TrimEnd('/');
            if (Uri.TryCreate(value, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps))
            {
                return uri;
            }

            errors.Add($"{name}: '{value}' is not an absolute http or https URL.");
            return new Uri(fallback);
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

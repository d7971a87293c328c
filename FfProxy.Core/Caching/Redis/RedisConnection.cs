using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using FfProxy.Core.Configuration;
using StackExchange.Redis;

namespace FfProxy.Core.Caching.Redis;

/// <summary>
/// Turns the REDIS_* variables (spec §6.1, §6.2) into StackExchange.Redis options. REDIS_ADDRESS is
/// <c>host:port</c>, <c>redis://[user:password@]host:port[/db]</c>, <c>rediss://…</c> (TLS), a comma-separated
/// list of Redis Cluster nodes, or a StackExchange.Redis connection string (what Aspire passes).
/// </summary>
internal static class RedisConnection
{
    public static ConfigurationOptions Parse(RedisOptions redis)
    {
        var address = redis.Address.Trim();
        ConfigurationOptions options;
        if (address.Contains('=', StringComparison.Ordinal))
        {
            options = ConfigurationOptions.Parse(address, ignoreUnknown: true);
        }
        else
        {
            options = new ConfigurationOptions();
            foreach (var node in address.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                AddNode(options, node);
            }
        }

        if (options.EndPoints.Count == 0)
        {
            throw Invalid("REDIS_ADDRESS", "names no Redis node; use host:port, redis://host:port, rediss://host:port or a comma-separated cluster node list");
        }

        Apply(options, redis);
        return options;
    }

    /// <summary>Applies the REDIS_* settings other than the address to <paramref name="options"/>.</summary>
    public static void Apply(ConfigurationOptions options, RedisOptions redis)
    {
        if (redis.Username.Length > 0)
        {
            options.User = redis.Username;
        }

        if (redis.Password.Length > 0)
        {
            options.Password = redis.Password;
        }

        if (redis.Db > 0)
        {
            options.DefaultDatabase = redis.Db;
        }

        // Start and keep retrying when Redis is not there yet: the proxy serves snapshots meanwhile.
        options.AbortOnConnectFail = false;
        // REDIS_DIAL_TIMEOUT_SECONDS: how long one connection attempt may take.
        options.ConnectTimeout = redis.DialTimeoutSeconds * 1000;
        // REDIS_READ/WRITE_TIMEOUT_SECONDS: a multiplexed command is written and read as one operation, so the
        // longer of the two bounds it, synchronous or not.
        options.SyncTimeout = Math.Max(redis.ReadTimeoutSeconds, redis.WriteTimeoutSeconds) * 1000;
        options.AsyncTimeout = options.SyncTimeout;
        // REDIS_MAX_RETRIES: attempts of the first connect (at least one).
        options.ConnectRetry = Math.Max(1, redis.MaxRetries);
        // REDIS_MIN/MAX_RETRY_BACKOFF_MILLIS: go-redis waits between these before retrying; StackExchange.Redis
        // retries by reconnecting, after a wait drawn between the minimum and a bound that grows toward the maximum.
        options.ReconnectRetryPolicy = new ExponentialRetry(redis.MinRetryBackoffMillis, redis.MaxRetryBackoffMillis);
        options.ClientName ??= "ffproxy";

        if (redis.TlsEnabled)
        {
            options.Ssl = true;
        }

        if (!options.Ssl)
        {
            return;
        }

        if (redis.TlsServerName.Length > 0)
        {
            options.SslHost = redis.TlsServerName;
        }

        if (redis.TlsInsecureSkipVerify)
        {
            // Documented escape hatch for self-signed test setups: any certificate errors are accepted.
            var skipVerify = redis.TlsInsecureSkipVerify;
            options.CertificateValidation += (_, _, _, errors) => errors == SslPolicyErrors.None || skipVerify;
        }
        else if (redis.TlsCaCert.Length > 0)
        {
            var authority = LoadCertificates(redis.TlsCaCert, "REDIS_TLS_CA_CERT");
            options.CertificateValidation += (_, certificate, _, errors) => ValidateWithAuthority(certificate, errors, authority);
        }

        if (redis.TlsMode == "mtls")
        {
            X509Certificate2 client;
            try
            {
                client = X509Certificate2.CreateFromPemFile(redis.TlsClientCert, redis.TlsClientKey);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or System.Security.Cryptography.CryptographicException)
            {
                throw Invalid("REDIS_TLS_CLIENT_CERT", $"the client certificate and key could not be read ({ex.GetType().Name})");
            }

            options.CertificateSelection += (_, _, _, _, _) => client;
        }
    }

    private static void AddNode(ConfigurationOptions options, string node)
    {
        if (!node.Contains("://", StringComparison.Ordinal))
        {
            AddEndpoint(options, node);
            return;
        }

        if (!Uri.TryCreate(node, UriKind.Absolute, out var uri) || (uri.Scheme != "redis" && uri.Scheme != "rediss"))
        {
            throw Invalid("REDIS_ADDRESS", "a URL must use the redis:// or rediss:// scheme");
        }

        options.EndPoints.Add(uri.Host, uri.IsDefaultPort || uri.Port < 0 ? 6379 : uri.Port);
        options.Ssl |= uri.Scheme == "rediss";
        if (uri.UserInfo.Length > 0)
        {
            var parts = uri.UserInfo.Split(':', 2);
            var user = Uri.UnescapeDataString(parts[0]);
            if (parts.Length == 2)
            {
                options.User = user.Length > 0 ? user : null;
                options.Password = Uri.UnescapeDataString(parts[1]);
            }
            else
            {
                // redis://password@host, as go-redis reads a lone user-info part.
                options.Password = user;
            }
        }

        var path = uri.AbsolutePath.Trim('/');
        if (path.Length > 0)
        {
            if (!int.TryParse(path, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var db))
            {
                throw Invalid("REDIS_ADDRESS", "the path of a redis:// URL must be a database number");
            }

            options.DefaultDatabase = db;
        }
    }

    private static void AddEndpoint(ConfigurationOptions options, string node)
    {
        var colon = node.LastIndexOf(':');
        if (colon <= 0 || colon == node.Length - 1
            || !int.TryParse(node.AsSpan(colon + 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var port)
            || port is < 1 or > 65535)
        {
            throw Invalid("REDIS_ADDRESS", $"'{node}' is not host:port");
        }

        options.EndPoints.Add(node[..colon].Trim('[', ']'), port);
    }

    private static X509Certificate2Collection LoadCertificates(string path, string variable)
    {
        try
        {
            var collection = new X509Certificate2Collection();
            collection.ImportFromPemFile(path);
            if (collection.Count == 0)
            {
                throw Invalid(variable, "the file holds no PEM certificate");
            }

            return collection;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or System.Security.Cryptography.CryptographicException)
        {
            throw Invalid(variable, $"the file could not be read as PEM certificates ({ex.GetType().Name})");
        }
    }

    /// <summary>Accepts a server certificate that chains to the configured CA (and matches the host name).</summary>
    private static bool ValidateWithAuthority(X509Certificate? certificate, SslPolicyErrors errors, X509Certificate2Collection authority)
    {
        if (errors == SslPolicyErrors.None)
        {
            return true;
        }

        if (certificate is null || (errors & SslPolicyErrors.RemoteCertificateNameMismatch) != 0)
        {
            return false;
        }

        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.CustomTrustStore.AddRange(authority);
        using var server = new X509Certificate2(certificate);
        return chain.Build(server);
    }

    private static ProxyConfigurationException Invalid(string variable, string problem) => new([$"{variable}: {problem}."]);
}

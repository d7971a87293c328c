using System.Net;
using FfProxy.Core.Caching.Redis;
using FfProxy.Core.Configuration;
using StackExchange.Redis;

namespace FfProxy.Tests.Caching;

public sealed class RedisConnectionTests
{
    [Fact]
    public void Host_and_port()
    {
        var options = RedisConnection.Parse(new RedisOptions { Address = "cache.internal:6380" });

        Assert.Equal(new DnsEndPoint("cache.internal", 6380), Assert.Single(options.EndPoints));
        Assert.False(options.Ssl);
        Assert.False(options.AbortOnConnectFail);
    }

    [Fact]
    public void A_redis_url_carries_user_password_and_database()
    {
        var options = RedisConnection.Parse(new RedisOptions { Address = "redis://proxy:s%40cret@10.0.0.5:6390/3" });

        Assert.Equal(new DnsEndPoint("10.0.0.5", 6390), Assert.Single(options.EndPoints).AsDns());
        Assert.Equal("proxy", options.User);
        Assert.Equal("s@cret", options.Password);
        Assert.Equal(3, options.DefaultDatabase);
    }

    [Fact]
    public void Rediss_turns_tls_on_and_variables_override_the_url()
    {
        var options = RedisConnection.Parse(new RedisOptions
        {
            Address = "rediss://:old@secure.example.com",
            Password = "new",
            Db = 2,
            TlsServerName = "redis.example.com",
            DialTimeoutSeconds = 7,
            ReadTimeoutSeconds = 4,
        });

        Assert.True(options.Ssl);
        Assert.Equal(new DnsEndPoint("secure.example.com", 6379), Assert.Single(options.EndPoints).AsDns());
        Assert.Equal("new", options.Password);
        Assert.Equal(2, options.DefaultDatabase);
        Assert.Equal("redis.example.com", options.SslHost);
        Assert.Equal(7000, options.ConnectTimeout);
        Assert.Equal(4000, options.SyncTimeout);
    }

    [Fact]
    public void A_comma_separated_list_is_a_cluster_and_a_connection_string_is_taken_as_it_is()
    {
        var cluster = RedisConnection.Parse(new RedisOptions { Address = "n1:7000, n2:7001,n3:7002" });
        Assert.Equal(3, cluster.EndPoints.Count);

        var aspire = RedisConnection.Parse(new RedisOptions { Address = "localhost:6379,password=p,ssl=true" });
        Assert.Equal("p", aspire.Password);
        Assert.True(aspire.Ssl);
    }

    [Theory]
    [InlineData("just-a-host")]
    [InlineData("host:notaport")]
    [InlineData("host:70000")]
    [InlineData("http://host:6379")]
    [InlineData("redis://host:6379/db")]
    [InlineData(" , ")]
    public void A_bad_address_names_the_variable(string address)
    {
        var error = Assert.Throws<ProxyConfigurationException>(() => RedisConnection.Parse(new RedisOptions { Address = address }));

        Assert.StartsWith("REDIS_ADDRESS:", Assert.Single(error.Problems), StringComparison.Ordinal);
    }

    [Fact]
    public void Unreadable_tls_files_name_their_variable()
    {
        var error = Assert.Throws<ProxyConfigurationException>(() => RedisConnection.Parse(new RedisOptions
        {
            Address = "rediss://host:6379",
            TlsCaCert = "/nonexistent/ca.pem",
        }));

        Assert.StartsWith("REDIS_TLS_CA_CERT:", Assert.Single(error.Problems), StringComparison.Ordinal);
    }

    [Fact]
    public void Dial_timeout_bounds_each_connection_attempt()
    {
        Assert.Equal(11_000, RedisConnection.Parse(new RedisOptions { Address = "r:6379", DialTimeoutSeconds = 11 }).ConnectTimeout);
    }

    [Fact]
    public void Read_timeout_bounds_every_command_when_it_is_the_longer()
    {
        var options = RedisConnection.Parse(new RedisOptions { Address = "r:6379", ReadTimeoutSeconds = 9, WriteTimeoutSeconds = 2 });

        Assert.Equal(9_000, options.SyncTimeout);
        Assert.Equal(9_000, options.AsyncTimeout);
    }

    [Fact]
    public void Write_timeout_bounds_every_command_when_it_is_the_longer()
    {
        var options = RedisConnection.Parse(new RedisOptions { Address = "r:6379", ReadTimeoutSeconds = 2, WriteTimeoutSeconds = 6 });

        Assert.Equal(6_000, options.SyncTimeout);
        Assert.Equal(6_000, options.AsyncTimeout);
    }

    [Fact]
    public void Max_retries_are_the_connect_attempts()
    {
        Assert.Equal(7, RedisConnection.Parse(new RedisOptions { Address = "r:6379", MaxRetries = 7 }).ConnectRetry);
        Assert.Equal(1, RedisConnection.Parse(new RedisOptions { Address = "r:6379", MaxRetries = 0 }).ConnectRetry);
    }

    [Fact]
    public void Min_retry_backoff_is_the_shortest_wait_before_a_reconnect()
    {
        var policy = RedisConnection.Parse(new RedisOptions { Address = "r:6379", MinRetryBackoffMillis = 250, MaxRetryBackoffMillis = 250 }).ReconnectRetryPolicy!;

        Assert.IsType<ExponentialRetry>(policy);
        Assert.False(policy.ShouldRetry(0, 249));
        Assert.True(policy.ShouldRetry(0, 250));
    }

    [Fact]
    public void Max_retry_backoff_is_the_longest_wait_before_a_reconnect()
    {
        var policy = RedisConnection.Parse(new RedisOptions { Address = "r:6379", MinRetryBackoffMillis = 8, MaxRetryBackoffMillis = 40 }).ReconnectRetryPolicy!;

        // After many attempts the wait is drawn below the maximum, never above: 40 ms always suffices.
        for (var i = 0; i < 200; i++)
        {
            Assert.True(policy.ShouldRetry(1_000, 40));
        }

        Assert.False(policy.ShouldRetry(1_000, 7));
    }
}

internal static class EndPointExtensions
{
    public static DnsEndPoint AsDns(this EndPoint endPoint) => endPoint switch
    {
        DnsEndPoint dns => dns,
        IPEndPoint ip => new DnsEndPoint(ip.Address.ToString(), ip.Port),
        _ => throw new InvalidOperationException(endPoint.ToString()),
    };
}

using System.Net.Http.Json;
using System.Text.Json;
using FfProxy.Core.Caching.Redis;
using FfProxy.Core.Configuration;
using FfProxy.Tests.Fixtures;
using StackExchange.Redis;

namespace FfProxy.Tests.Caching;

/// <summary>
/// REDIS_TLS_* (spec §6.2) against a real <c>redis-server</c> serving TLS only: the Primary fills Redis and a Replica
/// serves from it over TLS and mTLS, and the certificate checks refuse what they should.
/// </summary>
public sealed class RedisTlsTests : IAsyncLifetime, IAsyncDisposable
{
    private const string Env = "8d9c2b3a-5e4f-4a1b-9c8d-7e6f5a4b3c2d";
    private const string ServerKey = "5f5c3a8e-0c6b-4d3e-9b1a-7c2d4e6f8a10";

    private readonly TlsFiles _files = new();
    private readonly RedisServer _tls;
    private readonly RedisServer _mtls;

    public RedisTlsTests()
    {
        _tls = RedisServer.Tls(_files, requireClientCertificate: false);
        _mtls = RedisServer.Tls(_files, requireClientCertificate: true);
    }

    [Fact]
    public async Task Over_tls_with_the_ca_the_primary_fills_redis_and_a_replica_serves_from_it()
    {
        await AssertPrimaryAndReplicaWorkAsync(new Dictionary<string, string>
        {
            ["REDIS_ADDRESS"] = $"rediss://localhost:{_tls.Port}",
            ["REDIS_TLS_CA_CERT"] = _files.CaCert,
        });
    }

    [Fact]
    public async Task Over_mtls_with_a_client_certificate_the_primary_fills_redis_and_a_replica_serves_from_it()
    {
        await AssertPrimaryAndReplicaWorkAsync(new Dictionary<string, string>
        {
            ["REDIS_ADDRESS"] = $"localhost:{_mtls.Port}",
            ["REDIS_TLS_ENABLED"] = "true",
            ["REDIS_TLS_MODE"] = "mtls",
            ["REDIS_TLS_CA_CERT"] = _files.CaCert,
            ["REDIS_TLS_CLIENT_CERT"] = _files.ClientCert,
            ["REDIS_TLS_CLIENT_KEY"] = _files.ClientKey,
        });
    }

    [Fact]
    public async Task A_server_certificate_the_proxy_cannot_trust_or_that_names_another_host_is_refused()
    {
        // The test CA is in no system store: without REDIS_TLS_CA_CERT the handshake must fail...
        await AssertRefusedAsync(new RedisOptions { Address = $"rediss://localhost:{_tls.Port}" });

        // ...and with it, a certificate for another name must fail too.
        await AssertRefusedAsync(new RedisOptions { Address = $"rediss://localhost:{_tls.Port}", TlsCaCert = _files.CaCert, TlsServerName = "redis.elsewhere.test" });

        // The documented escape hatch accepts it.
        await using var insecure = await ConnectAsync(new RedisOptions { Address = $"rediss://localhost:{_tls.Port}", TlsInsecureSkipVerify = true });
        Assert.True(insecure.IsConnected);
        await insecure.GetDatabase().PingAsync();
    }

    [Fact]
    public async Task An_mtls_server_refuses_a_proxy_without_a_client_certificate()
    {
        await AssertRefusedAsync(new RedisOptions { Address = $"rediss://localhost:{_mtls.Port}", TlsCaCert = _files.CaCert });

        await using var mutual = await ConnectAsync(new RedisOptions
        {
            Address = $"rediss://localhost:{_mtls.Port}",
            TlsMode = "mtls",
            TlsCaCert = _files.CaCert,
            TlsClientCert = _files.ClientCert,
            TlsClientKey = _files.ClientKey,
        });
        var db = mutual.GetDatabase();
        await db.StringSetAsync("tls-round-trip", "through mTLS");
        Assert.Equal("through mTLS", (string?)await db.StringGetAsync("tls-round-trip"));
    }

    public async Task InitializeAsync()
    {
        await _tls.StartAsync();
        await _mtls.StartAsync();
    }

    public async Task DisposeAsync()
    {
        await _tls.DisposeAsync();
        await _mtls.DisposeAsync();
        _files.Dispose();
    }

    async ValueTask IAsyncDisposable.DisposeAsync() => await DisposeAsync();

    private static async Task AssertPrimaryAndReplicaWorkAsync(Dictionary<string, string> redis)
    {
        await using var primary = PrimaryHost.StartOffline(redis);
        await Eventually.TrueAsync(async () => (await primary.Client.GetFromJsonAsync<JsonElement>("/health")).GetProperty("cacheStatus").GetString() == "healthy",
            TimeSpan.FromSeconds(10), "the Primary reaches Redis over TLS");

        // The Replica has nothing but Redis: what it serves went through TLS twice.
        var replicaSettings = new Dictionary<string, string>(redis)
        {
            ["AUTH_SECRET"] = PrimaryHost.AuthSecret,
            ["HEARTBEAT_INTERVAL"] = "0",
            ["FfProxy:Replication:StatePoll"] = "00:00:00.200",
        };
        await using var replica = PrimaryHost.StartReplica(replicaSettings);
        using var client = await replica.AuthenticatedClientAsync(ServerKey);
        await Eventually.TrueAsync(async () => (await client.GetAsync($"/client/env/{Env}/feature-configs/dark_mode")).IsSuccessStatusCode,
            TimeSpan.FromSeconds(10), "the Replica serves the flag the Primary wrote");
        var flag = await client.GetFromJsonAsync<JsonElement>($"/client/env/{Env}/feature-configs/dark_mode");
        Assert.Equal("dark_mode", flag.GetProperty("feature").GetString());
        Assert.Equal("healthy", (await replica.Client.GetFromJsonAsync<JsonElement>("/health")).GetProperty("cacheStatus").GetString());
    }

    private static async Task<ConnectionMultiplexer> ConnectAsync(RedisOptions redis)
    {
        var options = RedisConnection.Parse(redis);
        options.AbortOnConnectFail = true;
        options.ConnectRetry = 1;
        options.ConnectTimeout = 3000;
        return await ConnectionMultiplexer.ConnectAsync(options);
    }

    private static async Task AssertRefusedAsync(RedisOptions redis) =>
        await Assert.ThrowsAsync<RedisConnectionException>(async () =>
        {
            await using var connection = await ConnectAsync(redis);
        });
}

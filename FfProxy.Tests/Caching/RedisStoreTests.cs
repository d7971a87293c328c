using System.Diagnostics.Metrics;
using System.Text;
using System.Text.Json;
using FfProxy.Core.Caching;
using FfProxy.Core.Caching.Redis;
using FfProxy.Core.Messaging.Redis;
using FfProxy.Core.Configuration;
using FfProxy.Core.Domain;
using FfProxy.Core.Evaluation;
using FfProxy.Core.Messaging;
using FfProxy.Primary.ConfigStore;
using FfProxy.Tests.Fixtures;
using FfProxy.Tests.Saas;
using Microsoft.Extensions.Logging.Abstractions;
using StackExchange.Redis;

namespace FfProxy.Tests.Caching;

public sealed class RedisStoreTests(RedisServer redis) : IClassFixture<RedisServer>, IAsyncLifetime
{
    private const string Env = "763066c4-d779-4c37-9804-e5cf3044a41d";
    private ConnectionMultiplexer _connection = null!;
    private RedisKeyValueStore _store = null!;

    public async Task InitializeAsync()
    {
        await redis.FlushAsync();
        _connection = await ConnectionMultiplexer.ConnectAsync(RedisConnection.Parse(new RedisOptions { Address = redis.Address }));
        _store = new RedisKeyValueStore(_connection);
    }

    public async Task DisposeAsync() => await _connection.DisposeAsync();

    [Fact]
    public async Task Sets_gets_deletes_and_scans_many_keys()
    {
        await _store.SetAsync([new("a-1", "1"u8.ToArray()), new("a-2", "2"u8.ToArray()), new("b-1", "3"u8.ToArray())], default);

        Assert.Equal("2", Encoding.UTF8.GetString((await _store.GetAsync("a-2", default))!));
        Assert.Equal(["a-1", "a-2"], (await Scan("a-")).Order());

        await _store.DeleteAsync(["a-1", "b-1", "missing"], default);
        Assert.Null(await _store.GetAsync("a-1", default));
        Assert.Equal(["a-2"], await Scan(""));
        Assert.True(await _store.PingAsync(default));
    }

    [Fact]
    public async Task Scan_treats_glob_characters_in_the_prefix_literally()
    {
        await _store.SetAsync([new("env-[x]*?-1", "1"u8.ToArray()), new("env-ax-1", "2"u8.ToArray()), new(@"env-\-1", "3"u8.ToArray())], default);

        Assert.Equal(["env-[x]*?-1"], await Scan("env-[x]*?"));
        Assert.Equal([@"env-\-1"], await Scan(@"env-\"));
    }

    [Fact]
    public async Task The_writer_writes_the_spec_4_2_layout_and_the_repository_reads_it_back()
    {
        var repository = new ConfigRepository(_store, NullLogger<ConfigRepository>.Instance);
        var snapshots = new SnapshotCache(repository, new SnapshotBuilder(new ProxyOptions(), NullLogger<SnapshotBuilder>.Instance, NullLogger<EvaluationPlan>.Instance), NullLogger<SnapshotCache>.Instance);
        var writer = new ConfigWriter(_store, repository, snapshots, [], NullLogger<ConfigWriter>.Instance);
        var hash = new string('a', 64);

        await writer.ApplyAsync(
            new EnvironmentConfig(Env, [hash], [InventoryTests.Flag("dark_mode", 4)], [InventoryTests.Segment("beta", "Beta", 2)], []),
            ItemVersioning.AsReceived, default);
        var read = StoredConfig.Read((await repository.LoadEnvironmentsAsync([Env, "other"], default))[0]);
        Assert.Equal([hash], read.ApiKeyHashes);
        Assert.Equal(("dark_mode", 4L), (read.Flags.Single().Identifier, read.Flags.Single().Version));
        Assert.Equal(("beta", 2L), (read.Segments.Single().Identifier, read.Segments.Single().Version));

        var db = _connection.GetDatabase();
        Assert.Equal($"\"{Env}\"", (string?)await db.StringGetAsync($"auth-key-{hash}"));
        Assert.Equal($"[\"auth-key-{hash}\"]", (string?)await db.StringGetAsync($"env-{Env}-api-configs"));
        var flags = (string?)await db.StringGetAsync($"env-{Env}-feature-configs");
        Assert.Equal("dark_mode", JsonDocument.Parse(flags!).RootElement[0].GetProperty("feature").GetString());
        var latest = (string?)await db.StringGetAsync($"env-{Env}-feature-configs-latest");
        Assert.Equal($"\"{Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(flags!)))}\"", latest);
        Assert.Equal(4, JsonDocument.Parse((string)(await db.StringGetAsync($"env-{Env}-feature-config-dark_mode"))!).RootElement.GetProperty("version").GetInt64());
        Assert.True(await db.KeyExistsAsync($"env-{Env}-segments"));
        Assert.True(await db.KeyExistsAsync($"env-{Env}-segments-latest"));
        Assert.True(await db.KeyExistsAsync($"env-{Env}-segment-beta"));
        Assert.Equal(RedisType.String, await db.KeyTypeAsync($"env-{Env}-segment-beta"));
    }

    [Fact]
    public async Task Metered_store_counts_operations_with_the_spec_names()
    {
        using var meters = new TestMeterFactory();
        var metered = new MeteredKeyValueStore(_store, meters);
        var names = new List<string>();

        // Only this store's meter (created by this test's factory): stores of tests running in parallel publish under the same name.
        using var listener = new MeterListener { InstrumentPublished = (instrument, l) => { if (meters.Created(instrument.Meter) && instrument.Meter.Name == MeteredKeyValueStore.MeterName) { l.EnableMeasurementEvents(instrument); } } };
        listener.SetMeasurementEventCallback<long>((instrument, _, tags, _) => { lock (names) { names.Add(instrument.Name + ":" + tags[0].Value); } });
        listener.Start();

        await metered.SetAsync([new("m", "1"u8.ToArray())], default);
        await metered.GetAsync("nothing", default);
        await metered.DeleteAsync(["m"], default);
        await foreach (var _ in metered.ScanAsync("m", default))
        {
        }

        Assert.Equal(["ff_proxy_redis_cache_write_count:false", "ff_proxy_redis_cache_read_count:false", "ff_proxy_redis_cache_remove_count:false", "ff_proxy_redis_cache_scan_count:false"], names);
    }

    private async Task<List<string>> Scan(string prefix)
    {
        var keys = new List<string>();
        await foreach (var key in _store.ScanAsync(prefix, default))
        {
            keys.Add(key);
        }

        return keys;
    }
}

/// <summary>Outages get their own server so other tests keep theirs.</summary>
public sealed class RedisOutageTests(RedisServer redis) : IClassFixture<RedisServer>
{
    private readonly RedisServer _redis = redis;

    [Fact]
    public async Task The_store_reports_unavailable_while_redis_is_down_and_recovers_on_the_same_connection()
    {
        var options = RedisConnection.Parse(new RedisOptions { Address = _redis.Address, DialTimeoutSeconds = 1, ReadTimeoutSeconds = 1, WriteTimeoutSeconds = 1 });
        await using var connection = await ConnectionMultiplexer.ConnectAsync(options);
        var store = new RedisKeyValueStore(connection);
        await store.SetAsync([new("k", "v"u8.ToArray())], default);

        await _redis.StopAsync();
        await Assert.ThrowsAsync<StoreUnavailableException>(() => store.GetAsync("k", default));
        Assert.False(await store.PingAsync(default));

        await _redis.StartAsync();
        await Eventually.TrueAsync(() => store.PingAsync(default), TimeSpan.FromSeconds(15), "the multiplexer reconnects");
        await store.SetAsync([new("k", "again"u8.ToArray())], default);
        Assert.Equal("again", Encoding.UTF8.GetString((await store.GetAsync("k", default))!));
    }
}

public sealed class RedisClusterStoreTests(RedisCluster cluster) : IClassFixture<RedisCluster>
{
    [Fact]
    public async Task Keys_across_slots_streams_and_scan_work_on_a_cluster()
    {
        var options = RedisConnection.Parse(new RedisOptions { Address = cluster.Address });
        await using var connection = await ConnectionMultiplexer.ConnectAsync(options);
        var store = new RedisKeyValueStore(connection);
        var entries = Enumerable.Range(0, 50).Select(i => new KeyValuePair<string, ReadOnlyMemory<byte>>($"env-c-feature-config-f{i}", Encoding.UTF8.GetBytes(i.ToString(System.Globalization.CultureInfo.InvariantCulture)))).ToList();

        await store.SetAsync(entries, default);
        var found = new List<string>();
        await foreach (var key in store.ScanAsync("env-c-", default))
        {
            found.Add(key);
        }

        Assert.Equal(50, found.Count);
        await store.DeleteAsync(found, default);
        Assert.Null(await store.GetAsync("env-c-feature-config-f7", default));

        // XREAD BLOCK on the reader's own connection is routed to the node holding the stream's slot.
        await using var readConnections = new StreamReadConnections(options);
        var streams = new RedisMessageStreams(connection, readConnections);
        var first = await streams.AppendAsync(CacheKeys.SseEventsStream, "x"u8.ToArray(), 1000, default);
        Assert.False(string.IsNullOrEmpty(first));
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await using var reader = streams.ReadAsync(CacheKeys.SseEventsStream, first, timeout.Token).GetAsyncEnumerator(timeout.Token);
        var next = reader.MoveNextAsync().AsTask();
        var second = await streams.AppendAsync(CacheKeys.SseEventsStream, "y"u8.ToArray(), 1000, default);
        Assert.True(await next);
        Assert.Equal(second, reader.Current.Id);
        Assert.Equal("y", Encoding.UTF8.GetString(reader.Current.Payload.Span));
    }
}

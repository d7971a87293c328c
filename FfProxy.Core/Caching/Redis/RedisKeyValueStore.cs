using System.Runtime.CompilerServices;
using System.Text;
using StackExchange.Redis;

namespace FfProxy.Core.Caching.Redis;

/// <summary>
/// The shared store in Redis (spec §4.1): plain string keys, JSON values, no TTL. Works against a single node
/// and a Redis Cluster: multi-key writes and deletes are pipelined one key per command, never cross-slot.
/// </summary>
internal sealed class RedisKeyValueStore(IConnectionMultiplexer redis) : IKeyValueStore
{
    private const int ScanPageSize = 500;

    public string Kind => "redis";

    public async Task<byte[]?> GetAsync(string key, CancellationToken cancellationToken)
    {
        var value = await RedisCalls.GuardAsync(() => Database.StringGetAsync(key)).ConfigureAwait(false);
        return value.IsNull ? null : (byte[]?)value;
    }

    public async Task<byte[]?[]> GetManyAsync(IReadOnlyList<string> keys, CancellationToken cancellationToken)
    {
        if (keys.Count == 0)
        {
            return [];
        }

        // One GET per key in a batch, not MGET: in a cluster the keys of one environment live in different slots.
        var values = await RedisCalls.GuardAsync(async () =>
        {
            var batch = Database.CreateBatch();
            var pending = new Task<RedisValue>[keys.Count];
            for (var i = 0; i < pending.Length; i++)
            {
                pending[i] = batch.StringGetAsync(keys[i]);
            }

            batch.Execute();
            return await Task.WhenAll(pending).ConfigureAwait(false);
        }).ConfigureAwait(false);
        return Array.ConvertAll(values, static value => value.IsNull ? null : (byte[]?)value);
    }

    public Task SetAsync(IReadOnlyCollection<KeyValuePair<string, ReadOnlyMemory<byte>>> entries, CancellationToken cancellationToken) =>
        RedisCalls.GuardAsync(() => Pipelined(entries, (batch, entry) => batch.StringSetAsync(entry.Key, entry.Value)));

    // The client copies the value into its output buffer when it sends the command, which is before the reply.
    public Task SetAsync(string key, ReadOnlyMemory<byte> value, CancellationToken cancellationToken) =>
        RedisCalls.GuardAsync(() => Database.StringSetAsync(key, value));

    public Task SetExpiringAsync(IReadOnlyCollection<KeyValuePair<string, byte[]>> entries, TimeSpan expiry, CancellationToken cancellationToken) =>
        RedisCalls.GuardAsync(() => Pipelined(entries, (batch, entry) => batch.StringSetAsync(entry.Key, entry.Value, expiry)));

    public Task DeleteAsync(IReadOnlyCollection<string> keys, CancellationToken cancellationToken) =>
        RedisCalls.GuardAsync(() => Pipelined(keys, (batch, key) => batch.KeyDeleteAsync(key)));

    public async IAsyncEnumerable<string> ScanAsync(string prefix, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var pattern = EscapeGlob(prefix) + "*";
        var database = Database.Database;

        // In a cluster every primary holds a share of the keys.
        var servers = redis.GetServers().Where(server => !server.IsReplica).ToList();
        foreach (var server in servers)
        {
            var keys = await RedisCalls.GuardAsync(async () =>
            {
                var found = new List<string>();
                await foreach (var key in server.KeysAsync(database, pattern, ScanPageSize).WithCancellation(cancellationToken).ConfigureAwait(false))
                {
                    found.Add(key.ToString());
                }

                return found;
            }).ConfigureAwait(false);
            foreach (var key in keys)
            {
                yield return key;
            }
        }
    }

    public async Task<bool> PingAsync(CancellationToken cancellationToken)
    {
        try
        {
            await RedisCalls.GuardAsync(() => Database.PingAsync()).ConfigureAwait(false);
            return true;
        }
        catch (StoreUnavailableException)
        {
            return false;
        }
    }

    private IDatabase Database => redis.GetDatabase();

    private async Task<bool> Pipelined<T>(IReadOnlyCollection<T> items, Func<IDatabaseAsync, T, Task> command)
    {
        if (items.Count == 0)
        {
            return true;
        }

        if (items.Count == 1)
        {
            await command(Database, items.First()).ConfigureAwait(false);
            return true;
        }

        var batch = Database.CreateBatch();
        var pending = items.Select(item => command(batch, item)).ToList();
        batch.Execute();
        await Task.WhenAll(pending).ConfigureAwait(false);
        return true;
    }

    /// <summary>Glob metacharacters in a key prefix match themselves only.</summary>
    internal static string EscapeGlob(string prefix)
    {
        var escaped = new StringBuilder(prefix.Length + 8);
        foreach (var c in prefix)
        {
            if (c is '*' or '?' or '[' or ']' or '\\')
            {
                escaped.Append('\\');
            }

            escaped.Append(c);
        }

        return escaped.ToString();
    }
}

/// <summary>Maps the ways a Redis call fails when Redis is away to <see cref="StoreUnavailableException"/>.</summary>
internal static class RedisCalls
{
    public static async Task<T> GuardAsync<T>(Func<Task<T>> call)
    {
        try
        {
            return await call().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is RedisConnectionException or RedisTimeoutException or RedisServerException or ObjectDisposedException or TimeoutException)
        {
            throw new StoreUnavailableException("Redis is unavailable: " + ex.GetType().Name, ex);
        }
    }

    public static async Task GuardAsync(Func<Task> call) => await GuardAsync(async () =>
    {
        await call().ConfigureAwait(false);
        return true;
    }).ConfigureAwait(false);
}

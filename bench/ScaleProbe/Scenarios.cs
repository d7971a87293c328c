using System.Diagnostics;
using System.Net.Http.Json;

namespace FfProxy.Bench.ScaleProbe;

/// <summary>
/// The benchmark's scenarios that need watching item by item. Each prints <c>name=value</c> lines (times in seconds
/// from the moment the fake SaaS started the scenario) for bench/account-scale.sh to put in its table.
/// </summary>
public sealed class Scenarios(SaasControl saas, RedisView redis, ReplicaView replica, HttpClient primary, TimeSpan timeout, TextWriter output)
{
    private static readonly TimeSpan Round = TimeSpan.FromMilliseconds(100);

    /// <summary>Authenticates every environment at the Replica and checks that it serves all of them in full.</summary>
    public async Task TokensAsync()
    {
        var account = await saas.AccountAsync();
        var clock = Stopwatch.StartNew();
        List<EnvironmentKeys> incomplete = [.. account.Environments];
        while (incomplete.Count > 0 && clock.Elapsed < timeout)
        {
            incomplete = await replica.IncompleteAsync(incomplete, account.Flags, account.Groups);
            if (incomplete.Count > 0)
            {
                await Task.Delay(Round);
            }
        }

        Write("environments", account.Environments.Count);
        Write("replica_incomplete", incomplete.Count);
        Write("probe_auth", replica.Authentications);
    }

    /// <summary>K flag patches within S seconds across environments → every new version in Redis, then served by the Replica.</summary>
    public async Task StormAsync(int count, double seconds)
    {
        var before = await saas.StatsAsync();
        var storm = await saas.PatchesAsync(count, seconds, silent: false);
        var expected = Latest(storm.Changes);
        var (inRedis, served) = await ConvergeAsync(expected, storm.StartedAt);
        var after = await saas.StatsAsync();
        Write("storm_events", storm.Changes.Count);
        Write("storm_flags", expected.Count);
        Write("storm_sent_s", Seconds(after.LastAt.GetValueOrDefault("patches-sent"), storm.StartedAt));
        Write("redis_s", inRedis);
        Write("replica_s", served);
        Write("last_item_read_s", Seconds(after.LastAt.GetValueOrDefault("feature-config"), storm.StartedAt));
        Write("item_reads", after.Requested("feature-config") - before.Requested("feature-config"));
        Write("list_reads", after.Requested("feature-configs") - before.Requested("feature-configs"));
        Write("full_resyncs", after.Requested("config-first-page") - before.Requested("config-first-page"));
        Write("probe_mget", redis.MgetCalls);
    }

    /// <summary>environmentsAdded with E environments → all of them in Redis, then the last one served by the Replica.</summary>
    public async Task AddedAsync(int count)
    {
        var account = await saas.AccountAsync();
        var before = await saas.StatsAsync();
        var added = await saas.AddEnvironmentsAsync(count);
        var ids = added.Environments.Select(e => e.Id).ToList();
        string inRedis = "", served = "";
        List<string> redisPending = ids;
        List<EnvironmentKeys> replicaPending = [.. added.Environments];
        var authBefore = replica.Authentications;
        while ((redisPending.Count > 0 || replicaPending.Count > 0) && Elapsed(added.StartedAt) < timeout)
        {
            if (redisPending.Count > 0 && (redisPending = await redis.IncompleteAsync(redisPending, account.Flags, account.Groups)).Count == 0)
            {
                inRedis = Seconds(Now(), added.StartedAt);
            }

            // Only environments complete in Redis are asked of the Replica: an SDK authentication the Replica refuses still
            // costs it a Redis read, which would blur this phase's command counts.
            var inRedisNow = replicaPending.Where(e => !redisPending.Contains(e.Id)).ToList();
            if (inRedisNow.Count > 0)
            {
                var incomplete = await replica.IncompleteAsync(inRedisNow, account.Flags, account.Groups);
                replicaPending = [.. replicaPending.Except(inRedisNow).Concat(incomplete)];
                if (replicaPending.Count == 0)
                {
                    served = Seconds(Now(), added.StartedAt);
                }
            }

            await Task.Delay(Round);
        }

        var after = await saas.StatsAsync();
        Write("added_environments", ids.Count);
        Write("redis_s", inRedis.Length > 0 ? inRedis : $"timeout({redisPending.Count} incomplete)");
        Write("replica_s", served.Length > 0 ? served : $"timeout({replicaPending.Count} incomplete)");
        Write("auth_requests", after.Requested("auth") - before.Requested("auth"));
        Write("config_environment_pages", after.Requested("config-environment") - before.Requested("config-environment"));
        Write("full_resyncs", after.Requested("config-first-page") - before.Requested("config-first-page"));
        Write("probe_mget", redis.MgetCalls);
        Write("probe_auth", replica.Authentications - authBefore);
    }

    /// <summary>
    /// The account stream drops and is refused; once the Primary's poll at the drop has read the whole account, C flags
    /// change silently; then SaaS lets the stream back → the Replica serves every change, and how many full re-syncs
    /// (first pages of <c>/proxy/config</c>) the drop and the reconnect cost.
    /// </summary>
    public async Task OutageAsync(int changes, TimeSpan settle)
    {
        var before = await saas.StatsAsync();
        var dropped = await saas.OutageAsync();

        // The poll on disconnect (spec §3.5): wait until it has read the last page from SaaS, so it misses the changes below.
        var pagesRead = "none";
        while (Elapsed(dropped) < timeout)
        {
            var now = await saas.StatsAsync();
            var first = now.Requested("config-first-page") - before.Requested("config-first-page");
            var last = now.Requested("config-last-page") - before.Requested("config-last-page");
            if (first > 0 && last >= first)
            {
                pagesRead = Seconds(now.Now, dropped);
                break;
            }

            if (first == 0 && Elapsed(dropped) > TimeSpan.FromSeconds(30))
            {
                break;
            }

            await Task.Delay(Round);
        }

        var made = await saas.PatchesAsync(changes, 0, silent: true);
        while ((await saas.StatsAsync()).LastAt.GetValueOrDefault("patches-made") < made.StartedAt)
        {
            await Task.Delay(Round);
        }

        var mid = await saas.StatsAsync();
        var reconnect = await saas.ReconnectAsync();
        var (inRedis, served) = await ConvergeAsync(Latest(made.Changes), reconnect);

        // Settled: the Primary's stream is CONNECTED again and nothing has read /proxy/config for a while.
        var settled = await SettleAsync(settle);
        var after = await saas.StatsAsync();
        Write("outage_changes", made.Changes.Count);
        Write("poll_pages_read_s", pagesRead);
        Write("stream_reopened_s", after.LastAt.GetValueOrDefault("stream-opened") > reconnect ? Seconds(after.LastAt["stream-opened"], reconnect) : "no");
        Write("redis_s", inRedis);
        Write("replica_s", served);
        Write("settled", settled ? "yes" : "no");
        Write("resyncs_before_reconnect", mid.Requested("config-first-page") - before.Requested("config-first-page"));
        Write("resyncs_after_reconnect", after.Requested("config-first-page") - mid.Requested("config-first-page"));
        Write("config_pages_after_reconnect", after.Requested("config") - mid.Requested("config"));
        Write("stream_attempts_refused", after.Requested("stream-refused") - before.Requested("stream-refused"));
        Write("streams_opened", after.Requested("stream") - before.Requested("stream"));
        Write("probe_mget", redis.MgetCalls);
    }

    private async Task<(string InRedis, string Served)> ConvergeAsync(List<FlagChange> expected, long startedAt)
    {
        string inRedis = "", served = "";
        List<FlagChange> redisPending = expected, replicaPending = expected;
        while ((redisPending.Count > 0 || replicaPending.Count > 0) && Elapsed(startedAt) < timeout)
        {
            if (redisPending.Count > 0 && (redisPending = await redis.BehindAsync(redisPending)).Count == 0)
            {
                inRedis = Seconds(Now(), startedAt);
            }

            // The Primary writes Redis before it tells Replicas, so only flags already in Redis are asked of the Replica
            // (fewer requests competing with the Primary for the cores); versions only go up, so a flag once served at
            // its new version is not asked again.
            var inRedisNow = redisPending.Count == 0 ? replicaPending : [.. replicaPending.Except(redisPending)];
            if (inRedisNow.Count > 0)
            {
                var behind = await replica.BehindAsync(inRedisNow);
                replicaPending = [.. replicaPending.Except(inRedisNow).Concat(behind)];
                if (replicaPending.Count == 0)
                {
                    served = Seconds(Now(), startedAt);
                }
            }

            await Task.Delay(Round);
        }

        return (inRedis.Length > 0 ? inRedis : $"timeout({redisPending.Count} behind)", served.Length > 0 ? served : $"timeout({replicaPending.Count} behind)");
    }

    private async Task<bool> SettleAsync(TimeSpan quiet)
    {
        var clock = Stopwatch.StartNew();
        var lastConfig = -1L;
        var quietSince = Stopwatch.StartNew();
        while (clock.Elapsed < timeout)
        {
            var stats = await saas.StatsAsync();
            if (stats.Requested("config") != lastConfig)
            {
                lastConfig = stats.Requested("config");
                quietSince.Restart();
            }

            if (quietSince.Elapsed >= quiet && await PrimaryStreamAsync() == "CONNECTED")
            {
                return true;
            }

            await Task.Delay(Round);
        }

        return false;
    }

    private async Task<string?> PrimaryStreamAsync()
    {
        try
        {
            var health = await primary.GetFromJsonAsync("health", ProbeJsonContext.Default.HealthView);
            return health?.StreamStatus?.State;
        }
        catch (HttpRequestException)
        {
            return null;
        }
    }

    /// <summary>One entry per flag, with the highest version it will reach.</summary>
    private static List<FlagChange> Latest(IReadOnlyList<FlagChange> changes) =>
        [.. changes.GroupBy(c => (c.Environment, c.Flag)).Select(g => g.MaxBy(c => c.Version)!)];

    private static long Now() => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();

    private static TimeSpan Elapsed(long since) => TimeSpan.FromMilliseconds(Now() - since);

    private static string Seconds(long at, long since) =>
        at == 0 ? "none" : ((at - since) / 1000.0).ToString("0.00", System.Globalization.CultureInfo.InvariantCulture);

    private void Write(string name, object value) => output.WriteLine($"{name}={value}");
}

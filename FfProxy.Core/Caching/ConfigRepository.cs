using System.Text.Json;
using FfProxy.Core.Domain;
using Microsoft.Extensions.Logging;

namespace FfProxy.Core.Caching;

/// <summary>What a stored environment holds, read back in one go for building a snapshot.</summary>
public sealed record StoredEnvironment(string Environment, byte[]? FeatureConfigs, byte[]? Segments, IReadOnlyList<string> ApiKeys)
{
    public bool Exists => FeatureConfigs is not null || Segments is not null || ApiKeys.Count > 0;
}

/// <summary>
/// Typed reads of the spec §4 key layout over any <see cref="IKeyValueStore"/>, shared by both roles, and the
/// targets SDK authentication saves. The configuration write path is the Primary's (FfProxy.Primary.ConfigStore).
/// </summary>
public sealed partial class ConfigRepository(IKeyValueStore store, ILogger<ConfigRepository> logger)
{
    public IKeyValueStore Store => store;

    /// <summary>The environment an SDK key hash belongs to, or null when the key is unknown.</summary>
    public async Task<string?> GetEnvironmentForKeyAsync(string keyHash, CancellationToken cancellationToken)
    {
        var value = await store.GetAsync(CacheKeys.AuthKey(keyHash), cancellationToken).ConfigureAwait(false);
        return value is null ? null : ReadJsonString(value);
    }

    public async Task<StoredEnvironment> LoadEnvironmentAsync(string env, CancellationToken cancellationToken) =>
        (await LoadEnvironmentsAsync([env], cancellationToken).ConfigureAwait(false))[0];

    /// <summary>Several environments in one round trip (pipelined reads), in the order given.</summary>
    public async Task<StoredEnvironment[]> LoadEnvironmentsAsync(IReadOnlyList<string> environments, CancellationToken cancellationToken)
    {
        var keys = new string[environments.Count * 3];
        for (var i = 0; i < environments.Count; i++)
        {
            keys[3 * i] = CacheKeys.FeatureConfigs(environments[i]);
            keys[(3 * i) + 1] = CacheKeys.Segments(environments[i]);
            keys[(3 * i) + 2] = CacheKeys.ApiConfigs(environments[i]);
        }

        var values = await store.GetManyAsync(keys, cancellationToken).ConfigureAwait(false);
        var loaded = new StoredEnvironment[environments.Count];
        for (var i = 0; i < loaded.Length; i++)
        {
            loaded[i] = new StoredEnvironment(environments[i], values[3 * i], values[(3 * i) + 1], ReadStringList(values[(3 * i) + 2]));
        }

        return loaded;
    }

    /// <summary>
    /// How long a target seen at authentication is kept after its last authentication. The spec's target keys have
    /// no expiry; ours do, because their identifiers come from clients and would otherwise accumulate for ever.
    /// </summary>
    public static TimeSpan TargetExpiry { get; } = TimeSpan.FromHours(24);

    /// <summary>Stores a target seen at authentication; evaluations use it when no Harness-Target header comes.</summary>
    public Task SaveTargetAsync(string env, Target target, CancellationToken cancellationToken)
    {
        var json = JsonSerializer.SerializeToUtf8Bytes(target, ProxyJsonContext.Default.Target);

        // Like the Go proxy, the list key holds the most recently authenticated target; nothing reads it.
        var list = new byte[json.Length + 2];
        list[0] = (byte)'[';
        json.CopyTo(list, 1);
        list[^1] = (byte)']';
        return store.SetExpiringAsync([new(CacheKeys.TargetConfig(env, target.Identifier), json), new(CacheKeys.TargetConfigs(env), list)], TargetExpiry, cancellationToken);
    }

    public async Task<Target?> GetTargetAsync(string env, string identifier, CancellationToken cancellationToken)
    {
        var json = await store.GetAsync(CacheKeys.TargetConfig(env, identifier), cancellationToken).ConfigureAwait(false);
        if (json is null)
        {
            return null;
        }

        try
        {
            return JsonSerializer.Deserialize(json, ProxyJsonContext.Default.Target);
        }
        catch (JsonException ex)
        {
            LogBadStoredTarget(logger, env, ex);
            return null;
        }
    }

    private static string? ReadJsonString(byte[] value)
    {
        try
        {
            return JsonSerializer.Deserialize(value, ProxyJsonContext.Default.String);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static List<string> ReadStringList(byte[]? value)
    {
        if (value is null)
        {
            return [];
        }

        try
        {
            return JsonSerializer.Deserialize(value, ProxyJsonContext.Default.ListString) ?? [];
        }
        catch (JsonException)
        {
            return [];
        }
    }

    [LoggerMessage(EventId = LogEventIds.Caching.BadStoredTarget, Level = LogLevel.Warning, Message = "Stored target of environment {Environment} is not valid JSON; ignoring it")]
    private static partial void LogBadStoredTarget(ILogger logger, string environment, Exception exception);
}

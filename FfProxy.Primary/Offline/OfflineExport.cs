using System.Globalization;
using System.Text;
using FfProxy.Core.Caching;
using FfProxy.Primary.ConfigStore;
using FfProxy.Core.Configuration;
using FfProxy.Core.Domain;
using FfProxy.Core.Sdk;
using FfProxy.Primary.Saas;

namespace FfProxy.Primary.Offline;

/// <summary>
/// GENERATE_OFFLINE_CONFIG: one full sync from SaaS into process memory, written to CONFIG_DIR in the spec §5
/// format, so an online proxy produces the directory an air-gapped one serves. Touches no Redis.
/// </summary>
internal sealed partial class OfflineExport(AccountSync sync, ConfigRepository repository, ProxyOptions options, TimeProvider time, ILogger<OfflineExport> logger)
{
    /// <summary>Builds a host that only syncs and exports, runs it, and returns the process exit code.</summary>
    public static async Task<int> RunAsync(WebApplicationBuilder builder)
    {
        builder.Services.AddSingleton<IKeyValueStore, InMemoryKeyValueStore>();
        builder.Services.AddSingleton<ConfigRepository>();
        builder.Services.AddSingleton<SnapshotBuilder>();
        builder.Services.AddSingleton<SnapshotCache>();
        builder.Services.AddSingleton<ConfigWriter>();
        builder.AddSdkApi();
        builder.AddSaasConnection();
        builder.Services.AddSingleton<OfflineExport>();
        await using var app = builder.Build();
        var lifetime = app.Services.GetRequiredService<IHostApplicationLifetime>();
        return await app.Services.GetRequiredService<OfflineExport>().ExportAsync(lifetime.ApplicationStopping).ConfigureAwait(false);
    }

    public async Task<int> ExportAsync(CancellationToken cancellationToken)
    {
        if (!await sync.SyncAllAsync(cancellationToken).ConfigureAwait(false))
        {
            LogFailed(logger, options.ConfigDir);
            return 1;
        }

        var inventory = Inventory.Parse(await repository.Store.GetAsync(CacheKeys.Inventory(options.ProxyKey), cancellationToken).ConfigureAwait(false));
        var environments = inventory.Environments.Where(e => e.Length > 0).Order(StringComparer.Ordinal).ToList();
        try
        {
            Directory.CreateDirectory(options.ConfigDir);
            foreach (var environment in environments)
            {
                var config = await StoredConfig.ReadAsync(repository, environment, cancellationToken).ConfigureAwait(false);
                WriteEnvironment(config);
            }

            RemoveStaleEnvironments(environments);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            LogWriteFailed(logger, options.ConfigDir, ex.Message);
            return 1;
        }

        LogExported(logger, environments.Count, options.ConfigDir);
        return 0;
    }

    private void WriteEnvironment(EnvironmentConfig config)
    {
        var directory = Path.Combine(options.ConfigDir, OfflineDirectory.EnvironmentPrefix + config.Environment);
        Directory.CreateDirectory(directory);
        WriteFile(directory, OfflineDirectory.AuthConfigFile, JsonArray(config.ApiKeyHashes.Order(StringComparer.Ordinal).Select(hash => Encoding.UTF8.GetBytes("\"" + hash + "\""))));
        WriteFile(directory, OfflineDirectory.FeatureConfigFile, JsonArray(config.Flags.OrderBy(f => f.Identifier, StringComparer.Ordinal).Select(f => f.Json)));
        WriteFile(directory, OfflineDirectory.SegmentsFile, JsonArray(config.Segments.OrderBy(s => s.Identifier, StringComparer.Ordinal).Select(s => s.Json)));
        WriteFile(directory, OfflineDirectory.TargetsFile, JsonArray(config.Targets.Select(t => t.Json)));
        var readme = string.Create(CultureInfo.InvariantCulture, $"""
            # Environment {config.Environment}

            Exported by FfProxy {Core.ProxyVersion.Current} on {time.GetUtcNow():yyyy-MM-dd HH:mm:ss} UTC with GENERATE_OFFLINE_CONFIG=true.
            Serve it with OFFLINE=true and CONFIG_DIR pointing at the parent directory.

            - SDK keys (SHA-256 hashes): {config.ApiKeyHashes.Count}
            - Flags: {config.Flags.Count}
            - Target groups: {config.Segments.Count}
            - Targets: {config.Targets.Count}

            """);
        WriteFile(directory, "README.md", Encoding.UTF8.GetBytes(readme));
    }

    /// <summary>Environments the key no longer grants would otherwise keep being served offline.</summary>
    private void RemoveStaleEnvironments(List<string> exported)
    {
        var keep = exported.Select(e => OfflineDirectory.EnvironmentPrefix + e).ToHashSet(StringComparer.Ordinal);
        foreach (var directory in Directory.EnumerateDirectories(options.ConfigDir, OfflineDirectory.EnvironmentPrefix + "*"))
        {
            var name = Path.GetFileName(directory);
            if (!keep.Contains(name))
            {
                Directory.Delete(directory, recursive: true);
                LogRemovedStale(logger, name);
            }
        }
    }

    /// <summary>One item per line: readable, diffable, and exactly the stored bytes of each item.</summary>
    private static byte[] JsonArray(IEnumerable<byte[]> items)
    {
        using var buffer = new MemoryStream();
        buffer.Write("["u8);
        var first = true;
        foreach (var item in items)
        {
            buffer.Write(first ? "\n  "u8 : ",\n  "u8);
            buffer.Write(item);
            first = false;
        }

        buffer.Write(first ? "]\n"u8 : "\n]\n"u8);
        return buffer.ToArray();
    }

    /// <summary>Write-then-rename, so a proxy watching the directory never reads a half-written file.</summary>
    private static void WriteFile(string directory, string name, byte[] content)
    {
        var path = Path.Combine(directory, name);
        var temporary = path + ".tmp";
        File.WriteAllBytes(temporary, content);
        File.Move(temporary, path, overwrite: true);
    }

    [LoggerMessage(EventId = LogEventIds.PrimaryOffline.Exported, Level = LogLevel.Information, Message = "Exported {Count} environments to {Directory}")]
    private static partial void LogExported(ILogger logger, int count, string directory);

    [LoggerMessage(EventId = LogEventIds.PrimaryOffline.Failed, Level = LogLevel.Error, Message = "Offline export to {Directory} failed: the sync with SaaS did not succeed")]
    private static partial void LogFailed(ILogger logger, string directory);

    [LoggerMessage(EventId = LogEventIds.PrimaryOffline.WriteFailed, Level = LogLevel.Error, Message = "Offline export to {Directory} failed: {Reason}")]
    private static partial void LogWriteFailed(ILogger logger, string directory, string reason);

    [LoggerMessage(EventId = LogEventIds.PrimaryOffline.RemovedStale, Level = LogLevel.Information, Message = "Removed {Directory}, an environment the proxy key no longer grants")]
    private static partial void LogRemovedStale(ILogger logger, string directory);
}

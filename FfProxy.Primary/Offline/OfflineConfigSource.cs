using System.Threading.Channels;
using FfProxy.Core.Caching;
using FfProxy.Primary.ConfigStore;
using FfProxy.Core.Configuration;
using FfProxy.Core.Hosting;
using FfProxy.Core.Sdk;

namespace FfProxy.Primary.Offline;

/// <summary>
/// Offline mode's configuration source: loads CONFIG_DIR before the server accepts requests, then watches it.
/// An edited, added or removed file becomes create/patch/delete events on connected SDK streams; added and
/// removed SDK keys take effect; a malformed file is logged and the environment keeps its last good config.
/// </summary>
internal sealed partial class OfflineConfigSource(
    ProxyOptions options,
    ConfigWriter writer,
    ProxyStatus status,
    TimeProvider time,
    ILogger<OfflineConfigSource> logger) : SupervisedLoop, IHostedLifecycleService, Saas.IStoreRepopulator
{
    protected override TimeProvider Time => time;

    protected override ILogger Logger => logger;

    /// <summary>Quiet time after a file event before reloading, so one save is one reload.</summary>
    public static TimeSpan Debounce { get; } = TimeSpan.FromMilliseconds(150);

    /// <summary>Fallback rescan interval for file systems that do not report changes.</summary>
    public static TimeSpan PollInterval { get; } = TimeSpan.FromSeconds(2);

    private readonly Channel<bool> _changed = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
    private readonly HashSet<string> _loaded = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _rejected = new(StringComparer.Ordinal);
    private string _fingerprint = "";
    private FileSystemWatcher? _watcher;

    /// <summary>Loads the directory before any hosted service (including the web server) starts.</summary>
    public async Task StartingAsync(CancellationToken cancellationToken)
    {
        await ReloadAsync(cancellationToken).ConfigureAwait(false);
        status.SetConfig(ConfigStates.Synced);

        // No upstream to lose: SDK streams are served from the start.
        status.SetStream(AccountStreamStates.Connected);
        LogLoaded(logger, options.ConfigDir, _loaded.Count);
    }

    protected override async Task RunAsync(CancellationToken stoppingToken)
    {
        StartWatcher();
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await WaitForChangeAsync(stoppingToken).ConfigureAwait(false);
                await ReloadAsync(stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex)
            {
                // Keep serving the last good configuration and try again on the next change.
                LogReloadFailed(logger, ex);
                await Task.Delay(PollInterval, time, stoppingToken).ConfigureAwait(false);
            }
        }
    }

    public override void Dispose()
    {
        _watcher?.Dispose();
        base.Dispose();
    }

    private async Task WaitForChangeAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            using var poll = new CancellationTokenSource(PollInterval, time);
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, poll.Token);
            try
            {
                await _changed.Reader.ReadAsync(linked.Token).ConfigureAwait(false);
                break;
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                if (OfflineDirectory.Fingerprint(options.ConfigDir) != _fingerprint)
                {
                    return;
                }
            }
        }

        // Let a burst of file events (editor save, directory copy) settle into one reload.
        while (true)
        {
            await Task.Delay(Debounce, time, cancellationToken).ConfigureAwait(false);
            if (!_changed.Reader.TryRead(out _))
            {
                return;
            }
        }
    }

    /// <summary>Writes the directory to the store again; what the store already holds is left as it is.</summary>
    public Task RepopulateAsync(CancellationToken cancellationToken) => ReloadAsync(cancellationToken);

    private async Task ReloadAsync(CancellationToken cancellationToken)
    {
        _fingerprint = OfflineDirectory.Fingerprint(options.ConfigDir);
        var found = OfflineDirectory.Read(options.ConfigDir);
        var present = new HashSet<string>(StringComparer.Ordinal);
        foreach (var environment in found)
        {
            if (!present.Add(environment.Environment))
            {
                LogDuplicateEnvironment(logger, environment.Environment, environment.Directory);
                continue;
            }

            if (environment.Config is null)
            {
                if (!_rejected.TryGetValue(environment.Environment, out var previous) || previous != environment.Error)
                {
                    LogRejected(logger, environment.Directory, environment.Error!);
                }

                _rejected[environment.Environment] = environment.Error!;
                continue;
            }

            _rejected.Remove(environment.Environment);
            await writer.ApplyAsync(environment.Config, ItemVersioning.BumpOnEdit, cancellationToken).ConfigureAwait(false);
            _loaded.Add(environment.Environment);
        }

        foreach (var gone in _loaded.Where(e => !present.Contains(e)).ToList())
        {
            await writer.RemoveAsync(gone, cancellationToken).ConfigureAwait(false);
            _loaded.Remove(gone);
        }
    }

    private void StartWatcher()
    {
        // A restarted loop keeps the watcher it has.
        if (_watcher is not null)
        {
            return;
        }

        try
        {
            _watcher = new FileSystemWatcher(options.ConfigDir)
            {
                IncludeSubdirectories = true,
                NotifyFilter = NotifyFilters.FileName | NotifyFilters.DirectoryName | NotifyFilters.LastWrite | NotifyFilters.Size,
            };
            FileSystemEventHandler signal = (_, _) => _changed.Writer.TryWrite(true);
            _watcher.Changed += signal;
            _watcher.Created += signal;
            _watcher.Deleted += signal;
            _watcher.Renamed += (_, _) => _changed.Writer.TryWrite(true);
            _watcher.Error += (_, e) =>
            {
                // Overflow or a vanished directory: the poll fingerprint still catches every change.
                LogWatcherError(logger, e.GetException());
                _changed.Writer.TryWrite(true);
            };
            _watcher.EnableRaisingEvents = true;
        }
        catch (Exception ex) when (ex is IOException or ArgumentException or PlatformNotSupportedException)
        {
            LogWatcherError(logger, ex);
        }
    }

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(EventId = LogEventIds.PrimaryOffline.Loaded, Level = LogLevel.Information, Message = "Offline configuration loaded from {ConfigDir}: {Environments} environments")]
    private static partial void LogLoaded(ILogger logger, string configDir, int environments);

    [LoggerMessage(EventId = LogEventIds.PrimaryOffline.Rejected, Level = LogLevel.Error, Message = "Offline configuration in {Directory} rejected, keeping its last good version: {Reason}")]
    private static partial void LogRejected(ILogger logger, string directory, string reason);

    [LoggerMessage(EventId = LogEventIds.PrimaryOffline.ReloadFailed, Level = LogLevel.Error, Message = "Reloading the offline configuration failed")]
    private static partial void LogReloadFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = LogEventIds.PrimaryOffline.WatcherError, Level = LogLevel.Warning, Message = "Watching the offline configuration directory failed; changes are found by polling")]
    private static partial void LogWatcherError(ILogger logger, Exception exception);

    [LoggerMessage(EventId = LogEventIds.PrimaryOffline.DuplicateEnvironment, Level = LogLevel.Warning, Message = "Environment {Environment} appears twice; ignoring {Directory}")]
    private static partial void LogDuplicateEnvironment(ILogger logger, string environment, string directory);
}

using System.Collections.Concurrent;
using FfProxy.Core.Caching;

namespace FfProxy.Core.Sdk;

/// <summary>
/// How many distinct targets this process writes to the store per environment: at most
/// <see cref="MaxPerEnvironment"/> new identifiers each <see cref="ConfigRepository.TargetExpiry"/> window. Identifiers
/// it already wrote in the window are refreshed as often as they authenticate. A stored target expires one window after
/// its last write, so no more than twice the limit live per environment and process, whatever identifiers clients
/// invent with a public client key.
/// </summary>
internal sealed class TargetStoreBudget(TimeProvider time)
{
    public const int MaxPerEnvironment = 10_000;

    private readonly ConcurrentDictionary<string, Window> _windows = new(StringComparer.Ordinal);

    /// <summary>True when the target may be written; false when the environment's budget for new identifiers is spent.</summary>
    public bool TryTake(string environment, string identifier)
    {
        var now = time.GetUtcNow();
        var window = _windows.AddOrUpdate(environment,
            static (_, now) => new Window(now),
            static (_, current, now) => now - current.Started >= ConfigRepository.TargetExpiry ? new Window(now) : current,
            now);
        lock (window.Identifiers)
        {
            return window.Identifiers.Contains(identifier)
                || (window.Identifiers.Count < MaxPerEnvironment && window.Identifiers.Add(identifier));
        }
    }

    private sealed class Window(DateTimeOffset started)
    {
        public DateTimeOffset Started { get; } = started;

        public HashSet<string> Identifiers { get; } = new(StringComparer.Ordinal);
    }
}

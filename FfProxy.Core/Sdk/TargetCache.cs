using System.Collections.Concurrent;
using FfProxy.Core.Domain;

namespace FfProxy.Core.Sdk;

/// <summary>
/// Targets seen at authentication, remembered in process for <see cref="Lifetime"/> so client-SDK evaluations
/// (which name the target only by identifier) do not read Redis on every request. Absence is remembered too.
/// A target re-authenticated on another instance with new attributes is seen here within <see cref="Lifetime"/>.
/// </summary>
public sealed class TargetCache(TimeProvider time)
{
    public static TimeSpan Lifetime { get; } = TimeSpan.FromSeconds(30);

    /// <summary>Beyond this many entries the cache starts over rather than grow without bound.</summary>
    public const int MaxEntries = 100_000;

    private readonly ConcurrentDictionary<(string Environment, string Identifier), Entry> _entries = new();

    /// <summary>True when the answer is known: <paramref name="target"/> is then the stored target, or null for none.</summary>
    public bool TryGet(string environment, string identifier, out Target? target)
    {
        if (_entries.TryGetValue((environment, identifier), out var entry) && entry.Expires > time.GetTimestamp())
        {
            target = entry.Target;
            return true;
        }

        target = null;
        return false;
    }

    public void Set(string environment, string identifier, Target? target)
    {
        if (_entries.Count >= MaxEntries)
        {
            _entries.Clear();
        }

        _entries[(environment, identifier)] = new Entry(target, time.GetTimestamp() + (long)(Lifetime.TotalSeconds * time.TimestampFrequency));
    }

    private readonly record struct Entry(Target? Target, long Expires);
}

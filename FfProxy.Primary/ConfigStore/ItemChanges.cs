using FfProxy.Core.Domain;

namespace FfProxy.Primary.ConfigStore;

/// <summary>
/// The create/patch/delete decision for one kind of item (flags or target groups) of one environment: given what
/// is stored and what should be, which items to store (in list order), which single-item keys to write or delete,
/// whether the list changes, and which events SDKs and Replicas hear (spec §4.3).
/// </summary>
internal sealed class ItemChanges
{
    private ItemChanges(List<ConfigItem> stored, List<ConfigItem> written, List<string> deleted, List<StreamMessage> events, bool listChanged)
    {
        Stored = stored;
        Written = written;
        Deleted = deleted;
        Events = events;
        ListChanged = listChanged;
    }

    /// <summary>The items as they are stored afterwards, in list order (versions bumped where decided).</summary>
    public IReadOnlyList<ConfigItem> Stored { get; }

    /// <summary>Items whose single-item key is written.</summary>
    public IReadOnlyList<ConfigItem> Written { get; }

    /// <summary>Identifiers whose single-item key is deleted.</summary>
    public IReadOnlyList<string> Deleted { get; }

    public IReadOnlyList<StreamMessage> Events { get; }

    /// <summary>Whether the list (and its <c>-latest</c> hash) must be written again.</summary>
    public bool ListChanged { get; }

    /// <param name="announceCreates">
    /// False on the very first sync of a store: no SDK or Replica holds older data, so a create event per item
    /// would only make every reader reload what it is about to load anyway.
    /// </param>
    public static ItemChanges Decide(
        string environment,
        string domain,
        IReadOnlyList<ConfigItem> current,
        IReadOnlyList<ConfigItem> next,
        ItemVersioning versioning,
        bool announceCreates = true)
    {
        var old = new Dictionary<string, ConfigItem>(current.Count, StringComparer.Ordinal);
        foreach (var item in current)
        {
            old.TryAdd(item.Identifier, item);
        }

        var stored = new List<ConfigItem>(next.Count);
        var written = new List<ConfigItem>();
        var deleted = new List<string>();
        var events = new List<StreamMessage>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var item in next)
        {
            if (!seen.Add(item.Identifier))
            {
                continue; // duplicate identifier: the first one wins, as for the single-item keys
            }

            if (!old.TryGetValue(item.Identifier, out var previous))
            {
                stored.Add(item);
                written.Add(item);
                if (announceCreates)
                {
                    events.Add(Event(StreamEvents.Create, domain, item.Identifier, item.Version, environment));
                }

                continue;
            }

            var candidate = item;
            if (versioning == ItemVersioning.BumpOnEdit && !SameJson(previous, item) && item.Version <= previous.Version)
            {
                // SDKs drop an update whose version is not newer than theirs. A hand-edited offline file
                // (or a source that reuses a version) gets the next version, unless only the version differs.
                candidate = item.WithVersion(previous.Version);
                if (!SameJson(previous, candidate))
                {
                    candidate = item.WithVersion(previous.Version + 1);
                }
            }

            if (SameJson(previous, candidate))
            {
                stored.Add(previous);
                continue;
            }

            stored.Add(candidate);
            written.Add(candidate);
            if (candidate.Version > previous.Version || versioning == ItemVersioning.BumpOnEdit)
            {
                events.Add(Event(StreamEvents.Patch, domain, item.Identifier, candidate.Version, environment));
            }
        }

        foreach (var (identifier, previous) in old)
        {
            if (!seen.Contains(identifier))
            {
                deleted.Add(identifier);
                events.Add(Event(StreamEvents.Delete, domain, identifier, previous.Version, environment));
            }
        }

        var listChanged = written.Count > 0 || deleted.Count > 0 || !SameOrder(old.Keys, stored);
        return new ItemChanges(stored, written, deleted, events, listChanged);
    }

    private static bool SameJson(ConfigItem a, ConfigItem b) => a.Json.AsSpan().SequenceEqual(b.Json);

    private static bool SameOrder(Dictionary<string, ConfigItem>.KeyCollection identifiers, List<ConfigItem> stored)
    {
        if (identifiers.Count != stored.Count)
        {
            return false;
        }

        var index = 0;
        foreach (var identifier in identifiers)
        {
            if (!string.Equals(identifier, stored[index++].Identifier, StringComparison.Ordinal))
            {
                return false;
            }
        }

        return true;
    }

    private static StreamMessage Event(string kind, string domain, string identifier, long version, string environment) =>
        new() { Event = kind, Domain = domain, Identifier = identifier, Version = version, Environment = environment };
}

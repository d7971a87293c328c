using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace FfProxy.Bench.ScaleSaas;

/// <summary>A changed flag and the version SaaS now serves for it.</summary>
public sealed record FlagChange(string Environment, string Flag, long Version);

/// <summary>An environment of the account and its two SDK keys (server, client), raw.</summary>
public sealed record EnvironmentKeys(string Id, string ServerKey, string ClientKey);

/// <summary>
/// The generated account: environments of <c>flags</c> flags and <c>groups</c> target groups and two SDK keys
/// each. Every item is kept as the bytes SaaS answers with; an environment's <c>/proxy/config</c> entry is
/// assembled once and kept until one of its items changes.
/// </summary>
public sealed class Account(int flags, int groups)
{
    private readonly Lock _gate = new();
    private readonly List<AccountEnvironment> _ordered = [];
    private readonly Dictionary<string, AccountEnvironment> _byId = new(StringComparer.Ordinal);
    private long _cursor;

    public int Flags { get; } = flags;

    public int Groups { get; } = groups;

    public int Count
    {
        get { lock (_gate) { return _ordered.Count; } }
    }

    /// <summary>Creates the next <paramref name="count"/> environments (ids and keys follow from their index).</summary>
    public IReadOnlyList<EnvironmentKeys> AddEnvironments(int count)
    {
        lock (_gate)
        {
            var added = new List<EnvironmentKeys>(count);
            for (var i = 0; i < count; i++)
            {
                var index = _ordered.Count;
                var env = new AccountEnvironment(index, Flags, Groups);
                _ordered.Add(env);
                _byId[env.Keys.Id] = env;
                added.Add(env.Keys);
            }

            return added;
        }
    }

    public IReadOnlyList<EnvironmentKeys> Environments()
    {
        lock (_gate)
        {
            return [.. _ordered.Select(e => e.Keys)];
        }
    }

    public bool Exists(string environment)
    {
        lock (_gate)
        {
            return _byId.ContainsKey(environment);
        }
    }

    /// <summary>
    /// The next <paramref name="count"/> flags in a walk that visits every environment before it takes the next flag
    /// of any, and the version each will have once all of them are patched (a flag met twice goes up twice).
    /// </summary>
    public IReadOnlyList<FlagChange> PlanPatches(int count)
    {
        lock (_gate)
        {
            var planned = new Dictionary<(string, string), long>();
            var order = new List<(string Env, string Flag)>(count);
            for (var i = 0; i < count; i++)
            {
                var c = _cursor++;
                var env = _ordered[(int)(c % _ordered.Count)];
                var flag = ItemJson.FlagId((int)(c / _ordered.Count % Flags));
                var key = (env.Keys.Id, flag);
                planned[key] = planned.TryGetValue(key, out var v) ? v + 1 : env.FlagVersion(flag) + 1;
                order.Add(key);
            }

            return [.. order.Select(k => new FlagChange(k.Env, k.Flag, 0)).Select(c => c with { Version = planned[(c.Environment, c.Flag)] })];
        }
    }

    /// <summary>Raises a flag's version by one, as an edit in SaaS does; returns the new version.</summary>
    public long Patch(string environment, string flag)
    {
        lock (_gate)
        {
            return _byId[environment].Patch(flag);
        }
    }

    public byte[]? Flag(string environment, string flag)
    {
        lock (_gate)
        {
            return _byId.TryGetValue(environment, out var env) ? env.Flag(flag) : null;
        }
    }

    public byte[]? Group(string environment, string group)
    {
        lock (_gate)
        {
            return _byId.TryGetValue(environment, out var env) ? env.Group(group) : null;
        }
    }

    public byte[]? FlagList(string environment)
    {
        lock (_gate)
        {
            return _byId.TryGetValue(environment, out var env) ? env.FlagList() : null;
        }
    }

    public byte[]? GroupList(string environment)
    {
        lock (_gate)
        {
            return _byId.TryGetValue(environment, out var env) ? env.GroupList() : null;
        }
    }

    /// <summary>The <c>/proxy/config</c> entries of <paramref name="environments"/>, in that order.</summary>
    public IReadOnlyList<byte[]> ConfigEntries(IEnumerable<string> environments)
    {
        lock (_gate)
        {
            return [.. environments.Where(_byId.ContainsKey).Select(e => _byId[e].ConfigEntry())];
        }
    }

    private sealed class AccountEnvironment
    {
        private readonly Dictionary<string, (long Version, byte[] Json)> _flags = new(StringComparer.Ordinal);
        private readonly Dictionary<string, byte[]> _groups = new(StringComparer.Ordinal);
        private byte[]? _configEntry;
        private byte[]? _flagList;
        private byte[]? _groupList;

        public AccountEnvironment(int index, int flags, int groups)
        {
            var id = Guid(index, 0x0e).ToString();
            Keys = new EnvironmentKeys(id, Guid(index, 0x05).ToString(), Guid(index, 0x0c).ToString());
            for (var f = 0; f < flags; f++)
            {
                _flags[ItemJson.FlagId(f)] = (1, ItemJson.Flag(id, f, groups, 1));
            }

            for (var g = 0; g < groups; g++)
            {
                _groups[ItemJson.GroupId(g)] = ItemJson.Group(id, g, 1);
            }
        }

        public EnvironmentKeys Keys { get; }

        public long FlagVersion(string flag) => _flags[flag].Version;

        public long Patch(string flag)
        {
            var version = _flags[flag].Version + 1;
            var index = int.Parse(flag.AsSpan("flag-".Length), System.Globalization.CultureInfo.InvariantCulture);
            _flags[flag] = (version, ItemJson.Flag(Keys.Id, index, _groups.Count, version));
            _configEntry = null;
            _flagList = null;
            return version;
        }

        public byte[]? Flag(string flag) => _flags.TryGetValue(flag, out var item) ? item.Json : null;

        public byte[]? Group(string group) => _groups.GetValueOrDefault(group);

        public byte[] FlagList() => _flagList ??= JoinArray(_flags.Values.Select(f => f.Json));

        public byte[] GroupList() => _groupList ??= JoinArray(_groups.Values);

        public byte[] ConfigEntry()
        {
            if (_configEntry is not null)
            {
                return _configEntry;
            }

            using var buffer = new MemoryStream();
            buffer.Write("{\"id\":"u8);
            buffer.Write(JsonSerializer.SerializeToUtf8Bytes(Keys.Id, ScaleJsonContext.Default.String));
            buffer.Write(",\"apiKeys\":["u8);
            buffer.Write(Encoding.UTF8.GetBytes($"\"{Hash(Keys.ServerKey)}\",\"{Hash(Keys.ClientKey)}\""));
            buffer.Write("],\"featureConfigs\":"u8);
            buffer.Write(FlagList());
            buffer.Write(",\"segments\":"u8);
            buffer.Write(GroupList());
            buffer.Write("}"u8);
            return _configEntry = buffer.ToArray();
        }

        private static byte[] JoinArray(IEnumerable<byte[]> items)
        {
            using var buffer = new MemoryStream();
            buffer.WriteByte((byte)'[');
            var first = true;
            foreach (var item in items)
            {
                if (!first)
                {
                    buffer.WriteByte((byte)',');
                }

                buffer.Write(item);
                first = false;
            }

            buffer.WriteByte((byte)']');
            return buffer.ToArray();
        }

        /// <summary>A stable UUID from the environment's index; <paramref name="kind"/> tells environments and keys apart.</summary>
        private static Guid Guid(int index, byte kind) =>
            new($"{kind:x2}{index:x6}-5ca1-4e00-8000-{index:x12}");
    }

    /// <summary>The SHA-256 hex of an SDK key, as SaaS lists it in <c>apiKeys</c>.</summary>
    public static string Hash(string sdkKey) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(sdkKey)));
}

namespace FfProxy.Core.Domain;

/// <summary>
/// Everything one environment holds: SDK-key hashes, flags, target groups and known targets, as validated,
/// normalised JSON items. Produced by the offline directory and the SaaS sync alike.
/// </summary>
public sealed record EnvironmentConfig(
    string Environment,
    IReadOnlyList<string> ApiKeyHashes,
    IReadOnlyList<ConfigItem> Flags,
    IReadOnlyList<ConfigItem> Segments,
    IReadOnlyList<ConfigItem> Targets);

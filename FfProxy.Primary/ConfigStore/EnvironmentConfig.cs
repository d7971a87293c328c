using FfProxy.Core.Domain;

namespace FfProxy.Primary.ConfigStore;

/// <summary>
/// Everything one environment holds: SDK-key hashes, flags, target groups and known targets, as validated,
/// normalised JSON items. Produced by the offline directory and the SaaS sync alike.
/// </summary>
internal sealed record EnvironmentConfig(
    string Environment,
    IReadOnlyList<string> ApiKeyHashes,
    IReadOnlyList<ConfigItem> Flags,
    IReadOnlyList<ConfigItem> Segments,
    IReadOnlyList<ConfigItem> Targets)
{
    /// <summary>An environment holding nothing: what a new or removed environment is compared with.</summary>
    public static EnvironmentConfig Empty(string environment) => new(environment, [], [], [], []);
}

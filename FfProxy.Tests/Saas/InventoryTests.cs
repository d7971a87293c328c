using System.Text;
using System.Text.Json;
using FfProxy.Core.Domain;
using FfProxy.Primary.ConfigStore;
using FfProxy.Primary.Saas;

namespace FfProxy.Tests.Saas;

public sealed class InventoryTests
{
    private const string Env = "763066c4-d779-4c37-9804-e5cf3044a41d";
    private const string Hash = "78e65d1b137473f6193c6b2bb46b3186c377c556657db7679c93cdad3fc34285";

    [Fact]
    public void Holds_the_keys_of_spec_4_5_with_versions_keyed_by_segment_identifier()
    {
        var inventory = new Inventory();
        inventory.Set(new EnvironmentConfig(Env, [Hash.ToUpperInvariant()], [Flag("dark_mode", 7)], [Segment("beta", "Beta testers", 3)], []));

        var json = JsonDocument.Parse(inventory.ToJson()).RootElement;
        var entries = json.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetInt64());
        Assert.Equal(new Dictionary<string, long>
        {
            [$"auth-key-{Hash}"] = 0,
            [$"env-{Env}-api-configs"] = 0,
            [$"env-{Env}-feature-config-dark_mode"] = 7,
            [$"env-{Env}-feature-configs"] = 0,
            [$"env-{Env}-segment-beta"] = 3,
            [$"env-{Env}-segments"] = 0,
        }, entries);

        // Ordinal key order, as Go's encoder writes maps.
        var names = json.EnumerateObject().Select(p => p.Name).ToList();
        Assert.Equal(names.Order(StringComparer.Ordinal), names);
    }

    [Fact]
    public void Lists_are_only_owned_when_the_environment_has_items_of_their_kind()
    {
        var inventory = new Inventory();
        inventory.Set(new EnvironmentConfig(Env, [], [Flag("f", 1)], [], []));

        Assert.Equal([$"env-{Env}-feature-config-f", $"env-{Env}-feature-configs"], inventory.KeysOf(Env).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Reads_the_2_0_9_form_with_empty_string_values_and_groups_keys_by_environment()
    {
        var stored = Encoding.UTF8.GetBytes($$"""{"env-{{Env}}-api-configs":"","auth-key-{{Hash}}":"","env-{{Env}}-feature-configs":"","env-{{Env}}-feature-config-dark_mode":"","env-other-segment-x":12}""");

        var inventory = Inventory.Parse(stored);

        Assert.Equal(["", Env, "other"], inventory.Environments.Order(StringComparer.Ordinal));
        Assert.Contains($"auth-key-{Hash}", inventory.KeysOf(""));
        Assert.Equal(12, inventory.Keys.Single(k => k.Key == "env-other-segment-x").Value);
        Assert.Equal(0, inventory.Keys.Single(k => k.Key == $"env-{Env}-feature-config-dark_mode").Value);
    }

    [Theory]
    [InlineData("not json")]
    [InlineData("[1,2]")]
    [InlineData("")]
    public void An_unreadable_inventory_is_empty(string stored)
    {
        Assert.Empty(Inventory.Parse(Encoding.UTF8.GetBytes(stored)).Keys);
    }

    [Theory]
    [InlineData("env-abc-feature-configs", "abc")]
    [InlineData("env-abc-feature-config-my-flag", "abc")]
    [InlineData("env-a-b-c-segment-x-segments", "a-b-c")]
    [InlineData("env-abc-api-configs", "abc")]
    [InlineData("env-abc-target-config-u1", "abc")]
    [InlineData("auth-key-123", null)]
    [InlineData("ffproxy_saas_stream_health", null)]
    public void Finds_the_environment_of_a_key(string key, string? environment)
    {
        Assert.Equal(environment, Inventory.EnvironmentOf(key));
    }

    internal static ConfigItem Flag(string feature, long version) => ConfigItem.FromFlag(JsonDocument.Parse($$"""
        {"feature":"{{feature}}","kind":"boolean","state":"on","version":{{version}},"defaultServe":{"variation":"true"},"offVariation":"false",
         "variations":[{"identifier":"true","value":"true"},{"identifier":"false","value":"false"}],"environment":"{{Env}}","project":"p"}
        """).RootElement);

    internal static ConfigItem Segment(string identifier, string name, long version) => ConfigItem.FromSegment(JsonDocument.Parse($$"""
        {"identifier":"{{identifier}}","name":"{{name}}","version":{{version}},"environment":"{{Env}}","included":[],"excluded":[],"rules":[]}
        """).RootElement);
}

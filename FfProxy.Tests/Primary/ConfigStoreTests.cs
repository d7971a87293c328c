using System.Text;
using FfProxy.Core.Caching;
using FfProxy.Primary.ConfigStore;
using FfProxy.Primary.Saas;
using FfProxy.Tests.Saas;

namespace FfProxy.Tests.Primary;

/// <summary>The Primary's write path in memory: event decisions, what one change writes, ordering and the gate.</summary>
public sealed class ConfigStoreTests
{
    private const string Env = "e1";

    [Fact]
    public void A_new_item_is_created_a_higher_version_patched_a_missing_one_deleted_and_an_equal_one_left_alone()
    {
        var changes = ItemChanges.Decide(Env, "flag",
            [InventoryTests.Flag("same", 1), InventoryTests.Flag("up", 1), InventoryTests.Flag("gone", 3)],
            [InventoryTests.Flag("same", 1), InventoryTests.Flag("up", 2), InventoryTests.Flag("new", 5)],
            ItemVersioning.AsReceived);

        Assert.Equal(["patch up 2", "create new 5", "delete gone 3"], changes.Events.Select(e => $"{e.Event} {e.Identifier} {e.Version}"));
        Assert.Equal(["up", "new"], changes.Written.Select(i => i.Identifier));
        Assert.Equal(["gone"], changes.Deleted);
        Assert.Equal(["same", "up", "new"], changes.Stored.Select(i => i.Identifier));
        Assert.True(changes.ListChanged);
        Assert.All(changes.Events, e => Assert.Equal(Env, e.Environment));
    }

    [Fact]
    public void Saas_content_that_changed_without_a_higher_version_is_stored_without_a_patch_event()
    {
        var changes = ItemChanges.Decide(Env, "flag", [InventoryTests.Flag("f", 4)], [ItemWithState("f", 4, "off")], ItemVersioning.AsReceived);

        Assert.Empty(changes.Events);
        Assert.Equal(["f"], changes.Written.Select(i => i.Identifier));
    }

    [Fact]
    public void An_edited_offline_item_gets_the_next_version_and_a_patch()
    {
        var changes = ItemChanges.Decide(Env, "flag", [InventoryTests.Flag("f", 4)], [ItemWithState("f", 1, "off")], ItemVersioning.BumpOnEdit);

        Assert.Equal(["patch f 5"], changes.Events.Select(e => $"{e.Event} {e.Identifier} {e.Version}"));
        Assert.Equal(5, changes.Stored.Single().Version);
    }

    [Fact]
    public void Creates_can_be_left_unannounced_for_a_first_sync_while_deletes_are_not()
    {
        var changes = ItemChanges.Decide(Env, "target-segment", [InventoryTests.Segment("old", "Old", 1)], [InventoryTests.Segment("new", "New", 1)],
            ItemVersioning.AsReceived, announceCreates: false);

        Assert.Equal(["delete old"], changes.Events.Select(e => $"{e.Event} {e.Identifier}"));
        Assert.Equal(["new"], changes.Written.Select(i => i.Identifier));
    }

    [Fact]
    public void A_reordered_list_is_rewritten_without_events()
    {
        var changes = ItemChanges.Decide(Env, "flag", [InventoryTests.Flag("a", 1), InventoryTests.Flag("b", 1)],
            [InventoryTests.Flag("b", 1), InventoryTests.Flag("a", 1)], ItemVersioning.AsReceived);

        Assert.Empty(changes.Events);
        Assert.Empty(changes.Written);
        Assert.True(changes.ListChanged);
    }

    [Fact]
    public void One_patched_flag_writes_its_key_its_list_and_the_list_hash_only()
    {
        var flags = Enumerable.Range(0, 50).Select(i => InventoryTests.Flag($"f{i}", 1)).ToList();
        var current = new EnvironmentConfig(Env, ["abc"], flags, [InventoryTests.Segment("g", "G", 1)], []);
        var next = current with { Flags = [.. flags.Select(f => f.Identifier == "f7" ? InventoryTests.Flag("f7", 2) : f)] };

        var write = EnvironmentWrite.Plan(current, next, ItemVersioning.AsReceived);

        Assert.Equal([CacheKeys.FeatureConfig(Env, "f7"), CacheKeys.FeatureConfigs(Env), CacheKeys.Latest(CacheKeys.FeatureConfigs(Env))],
            write.Writes.Select(w => w.Key));
        Assert.Empty(write.Deletes);
        Assert.Equal(["patch f7 2"], write.Events.Select(e => $"{e.Event} {e.Identifier} {e.Version}"));
        var stored = write.ToStoredEnvironment();
        Assert.Equal(write.Writes[1].Value.ToArray(), stored.FeatureConfigs);
        Assert.Equal([CacheKeys.AuthKey("abc")], stored.ApiKeys);

        // The written list was in a rented buffer; once it is returned the stored view is joined again, equal.
        write.ReturnBuffers();
        Assert.Equal(stored.FeatureConfigs, write.ToStoredEnvironment().FeatureConfigs);
        Assert.Equal(stored.Segments, write.ToStoredEnvironment().Segments);
    }

    [Fact]
    public async Task Work_of_one_environment_runs_in_queue_order_while_other_environments_proceed()
    {
        var queues = new EnvironmentQueues();
        var order = new List<int>();
        var firstBlocked = new TaskCompletionSource();
        var first = queues.Enqueue("a", async () =>
        {
            await firstBlocked.Task;
            lock (order)
            {
                order.Add(1);
            }
        });
        var second = queues.Enqueue("a", () =>
        {
            lock (order)
            {
                order.Add(2);
            }

            return Task.CompletedTask;
        });
        var other = queues.Enqueue("b", () => Task.CompletedTask);

        // Environment b does not wait for a's blocked work; a's second item does.
        await other.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.False(second.IsCompleted);
        firstBlocked.SetResult();
        await Task.WhenAll(first, second).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal([1, 2], order);
        await queues.DrainAsync().WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task The_gate_lets_item_changes_share_it_and_a_sync_wait_for_them_and_go_before_later_ones()
    {
        var gate = new ChangeGate();
        var a = await gate.EnterSharedAsync(default);
        var b = await gate.EnterSharedAsync(default);
        var exclusive = gate.EnterExclusiveAsync(default);
        var later = gate.EnterSharedAsync(default);

        Assert.False(exclusive.IsCompleted);
        a.Dispose();
        Assert.False(exclusive.IsCompleted);
        b.Dispose();
        var alone = await exclusive.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.False(later.IsCompleted);
        alone.Dispose();
        (await later.WaitAsync(TimeSpan.FromSeconds(10))).Dispose();
        (await gate.EnterExclusiveAsync(default).WaitAsync(TimeSpan.FromSeconds(10))).Dispose();
    }

    [Fact]
    public void Only_a_validated_item_sent_again_byte_for_byte_is_taken_for_itself_by_a_resync()
    {
        var held = InventoryTests.Flag("f", 1);
        using var same = System.Text.Json.JsonDocument.Parse(held.Json);
        using var spaced = System.Text.Json.JsonDocument.Parse(Encoding.UTF8.GetString(held.Json).Replace(",", ", ", StringComparison.Ordinal));
        using var changed = System.Text.Json.JsonDocument.Parse(ItemWithState("f", 1, "off").Json);

        Assert.True(held.IsExactly(same.RootElement));
        Assert.False(held.IsExactly(spaced.RootElement)); // equal once normalised, but not the same bytes: validated again
        Assert.False(held.IsExactly(changed.RootElement));
        Assert.False(ConfigItem.Stored("f", 1, held.Json).IsExactly(same.RootElement)); // read back from the store: never trusted
        var bumped = held.WithVersion(2);
        using var bumpedJson = System.Text.Json.JsonDocument.Parse(bumped.Json);
        Assert.True(bumped.IsExactly(bumpedJson.RootElement));
    }

    [Fact]
    public void The_inventory_is_serialised_sorted_and_without_duplicates()
    {
        var inventory = new Inventory();
        inventory.Set(new EnvironmentConfig("b", ["k"], [InventoryTests.Flag("z", 2)], [], []));
        inventory.Set(new EnvironmentConfig("a", [], [InventoryTests.Flag("y", 1)], [], []));

        Assert.Equal("""{"auth-key-k":0,"env-a-feature-config-y":1,"env-a-feature-configs":0,"env-b-api-configs":0,"env-b-feature-config-z":2,"env-b-feature-configs":0}""",
            Encoding.UTF8.GetString(inventory.ToJson()));
    }

    private static ConfigItem ItemWithState(string feature, long version, string state) => ConfigItem.FromFlag(System.Text.Json.JsonDocument.Parse(
        Encoding.UTF8.GetString(InventoryTests.Flag(feature, version).Json).Replace("\"state\":\"on\"", $"\"state\":\"{state}\"", StringComparison.Ordinal)).RootElement);
}

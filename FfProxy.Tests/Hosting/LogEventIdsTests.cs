using System.Reflection;
using FfProxy.Gateway;
using FfProxy.Primary;
using FfProxy.Replica;
using Microsoft.Extensions.Logging;

namespace FfProxy.Tests.Hosting;

/// <summary>Log event ids are chosen in <see cref="LogEventIds"/> only, and no two log messages share one.</summary>
public sealed class LogEventIdsTests
{
    private static readonly Assembly[] Processes =
    [
        typeof(Core.ProxyVersion).Assembly,
        typeof(PrimaryMarker).Assembly,
        typeof(ReplicaMarker).Assembly,
        typeof(GatewayMarker).Assembly,
        typeof(LogEventIds).Assembly,
    ];

    [Fact]
    public void No_two_log_messages_share_an_event_id()
    {
        var messages = LogMessages().ToList();
        var shared = messages.GroupBy(m => m.EventId).Where(g => g.Count() > 1)
            .Select(g => $"{g.Key}: {string.Join(", ", g.Select(m => m.Method))}").ToList();

        Assert.True(messages.Count > 50, "the log messages were found");
        Assert.Empty(shared);
    }

    [Fact]
    public void Every_log_message_takes_its_id_from_the_registry_and_every_registered_id_is_used()
    {
        var registered = typeof(LogEventIds).GetNestedTypes()
            .SelectMany(area => area.GetFields(BindingFlags.Public | BindingFlags.Static).Select(f => (Name: $"{area.Name}.{f.Name}", Id: (int)f.GetRawConstantValue()!)))
            .ToList();
        var used = LogMessages().Select(m => m.EventId).ToHashSet();

        Assert.Equal(registered.Count, registered.Select(r => r.Id).Distinct().Count());
        var unusedNames = registered.Where(r => !used.Contains(r.Id)).Select(r => r.Name).ToList();
        var unregisteredIds = used.Where(id => registered.All(r => r.Id != id)).ToList();
        Assert.Empty(unusedNames);
        Assert.Empty(unregisteredIds);
    }

    private static IEnumerable<(int EventId, string Method)> LogMessages() =>
        from assembly in Processes.Distinct()
        from type in assembly.GetTypes()
        from method in type.GetMethods(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static | BindingFlags.Instance | BindingFlags.DeclaredOnly)
        let attribute = method.GetCustomAttribute<LoggerMessageAttribute>()
        where attribute is not null
        select (attribute.EventId, $"{type.Name}.{method.Name}");
}

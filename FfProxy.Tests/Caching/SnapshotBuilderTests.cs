using System.Text;
using System.Text.Json;
using FfProxy.Core.Caching;
using FfProxy.Core.Configuration;
using FfProxy.Core.Evaluation;
using FfProxy.Tests.Fixtures;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace FfProxy.Tests.Caching;

public sealed class SnapshotBuilderTests
{
    private const string Valid = """{"feature":"kept","kind":"boolean","state":"on","offVariation":"false","defaultServe":{"variation":"true"},"variations":[{"identifier":"true","value":"true"},{"identifier":"false","value":"false"}],"version":1}""";
    private const string Invalid = """{"feature":"broken","kind":"boolean","state":"on","offVariation":"false","defaultServe":{"variation":"true"},"variations":[null],"version":1}""";
    private const string Duplicate = """{"feature":"kept","kind":"boolean","state":"off","offVariation":"false","defaultServe":{"variation":"true"},"variations":[{"identifier":"true","value":"true"},{"identifier":"false","value":"false"}],"version":2}""";

    [Fact]
    public void A_flag_skipped_as_invalid_is_served_neither_in_the_list_nor_by_identifier()
    {
        using var logs = new CapturedLogs();
        using var factory = LoggerFactory.Create(b => b.AddProvider(logs));
        var builder = new SnapshotBuilder(new ProxyOptions(), factory.CreateLogger<SnapshotBuilder>(), NullLogger<EvaluationPlan>.Instance);

        var snapshot = builder.Build(new StoredEnvironment("env-1", Encoding.UTF8.GetBytes($"[{Valid},{Invalid},{Duplicate}]"), null, []));

        Assert.Contains(logs.Lines, line => line.Contains("'broken'", StringComparison.Ordinal));
        Assert.False(snapshot.FeatureConfigById.ContainsKey("broken"));
        using var list = JsonDocument.Parse(snapshot.FeatureConfigs.Json);
        var served = list.RootElement.EnumerateArray().Select(f => (f.GetProperty("feature").GetString(), f.GetProperty("version").GetInt64())).ToList();
        Assert.Equal([("kept", 1L)], served);
    }
}

using System.Text.Json;
using FfProxy.Core.Domain;
using FfProxy.Core.Evaluation;
using Xunit.Abstractions;

namespace FfProxy.Tests.Evaluation;

/// <summary>
/// Every case of the shared SDK test-case data (Evaluation/ff-test-cases, format in its README) as its own
/// test: one store per file, rules sorted as SDKs do when storing, the typed call chosen by the flag kind.
/// </summary>
public sealed class ConformanceTests
{
    private static readonly string Root = Path.Combine(AppContext.BaseDirectory, "Evaluation", "ff-test-cases", "tests");

    public static TheoryData<ConformanceCase> Cases()
    {
        var data = new TheoryData<ConformanceCase>();
        foreach (var file in Directory.EnumerateFiles(Root, "*.json", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            using var document = JsonDocument.Parse(File.ReadAllBytes(file));
            var count = document.RootElement.GetProperty("tests").GetArrayLength();
            for (var i = 0; i < count; i++)
            {
                data.Add(new ConformanceCase(Path.GetRelativePath(Root, file).Replace('\\', '/'), i));
            }
        }

        return data;
    }

    [Fact]
    public void All_shipped_cases_are_discovered()
    {
        Assert.Equal(247, Cases().Count);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Case_evaluates_to_the_expected_value(ConformanceCase @case)
    {
        using var document = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(Root, @case.File)));
        var root = document.RootElement;
        var store = new Store(root);
        var test = root.GetProperty("tests")[@case.Index];
        var flag = store.GetFlag(test.GetProperty("flag").GetString()!)!;
        Target? target = null;
        if (test.TryGetProperty("target", out var targetId) && targetId.ValueKind == JsonValueKind.String)
        {
            target = root.GetProperty("targets").EnumerateArray()
                .Select(t => t.Deserialize(ProxyJsonContext.Default.Target)!)
                .First(t => t.Identifier == targetId.GetString());
        }

        var hasDefault = test.TryGetProperty("default", out var fallback);
        var result = new Evaluator().Evaluate(flag, target, store);
        var expected = test.GetProperty("expected");
        var value = result.Variation?.Value;
        switch (flag.Kind)
        {
            case "boolean":
                Assert.Equal(expected.GetBoolean(), value is null ? fallback.GetBoolean() : TypedValues.ToBool(value));
                break;
            case "string":
                Assert.Equal(expected.GetString(), value ?? fallback.GetString());
                break;
            case "int":
                Assert.Equal(expected.GetDouble(), value is not null && TypedValues.TryToNumber(value, out var number) ? number : fallback.GetDouble());
                break;
            case "json":
                var actual = value is not null && TypedValues.TryToJsonObject(value, out var json) ? json : Parse(fallback.GetString()!);
                Assert.True(JsonElement.DeepEquals(Parse(expected.GetString()!), actual), $"expected {expected.GetString()}, got {actual.GetRawText()}");
                break;
            default:
                Assert.Fail("unknown kind " + flag.Kind);
                break;
        }

        if (!hasDefault)
        {
            Assert.Null(result.Error);
        }
    }

    private static JsonElement Parse(string json)
    {
        using var document = JsonDocument.Parse(json);
        return document.RootElement.Clone();
    }

    /// <summary>One file's flags and groups, prepared as a repository would store them.</summary>
    private sealed class Store : IFlagSource
    {
        private readonly Dictionary<string, FeatureConfig> _flags = new(StringComparer.Ordinal);
        private readonly Dictionary<string, Segment> _segments = new(StringComparer.Ordinal);

        public Store(JsonElement root)
        {
            foreach (var flag in root.GetProperty("flags").EnumerateArray())
            {
                var parsed = FlagPreparation.Prepare(flag.Deserialize(ProxyJsonContext.Default.FeatureConfig)!);
                _flags[parsed.Feature] = parsed;
            }

            if (root.TryGetProperty("segments", out var segments) && segments.ValueKind == JsonValueKind.Array)
            {
                foreach (var segment in segments.EnumerateArray())
                {
                    var parsed = FlagPreparation.Prepare(segment.Deserialize(ProxyJsonContext.Default.Segment)!);
                    _segments[parsed.Identifier] = parsed;
                }
            }
        }

        public FeatureConfig? GetFlag(string identifier) => _flags.GetValueOrDefault(identifier);

        public Segment? GetSegment(string identifier) => _segments.GetValueOrDefault(identifier);
    }
}

/// <summary>A (file, case index) pair, serialisable so each case is its own test in runners.</summary>
public sealed class ConformanceCase : IXunitSerializable
{
    public ConformanceCase()
    {
    }

    public ConformanceCase(string file, int index)
    {
        File = file;
        Index = index;
    }

    public string File { get; private set; } = "";

    public int Index { get; private set; }

    public void Deserialize(IXunitSerializationInfo info)
    {
        File = info.GetValue<string>(nameof(File));
        Index = info.GetValue<int>(nameof(Index));
    }

    public void Serialize(IXunitSerializationInfo info)
    {
        info.AddValue(nameof(File), File);
        info.AddValue(nameof(Index), Index);
    }

    public override string ToString() => $"{File} #{Index}";
}

using System.Buffers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using FfProxy.Core.Caching;
using FfProxy.Core.Configuration;
using FfProxy.Core.Domain;
using FfProxy.Core.Evaluation;
using Microsoft.Extensions.Logging.Abstractions;

namespace FfProxy.Tests.Caching;

/// <summary>
/// The builder writes served bytes in one pass over the stored lists, without a DOM. These tests hold it to what
/// parsing each list into <see cref="JsonNode"/>s and writing them back gives (the builder's earlier implementation,
/// kept here as the oracle): every body byte for byte, on the conformance data and on hostile text.
/// </summary>
public sealed class SnapshotBytesTests
{
    private static readonly string ConformanceRoot = Path.Combine(AppContext.BaseDirectory, "Evaluation", "ff-test-cases", "tests");

    public static TheoryData<string> ConformanceFiles()
    {
        var data = new TheoryData<string>();
        foreach (var file in ConformanceFileNames())
        {
            data.Add(file);
        }

        return data;
    }

    private static IEnumerable<string> ConformanceFileNames() =>
        Directory.EnumerateFiles(ConformanceRoot, "*.json", SearchOption.AllDirectories).Order(StringComparer.Ordinal)
            .Select(file => Path.GetRelativePath(ConformanceRoot, file));

    [Theory]
    [MemberData(nameof(ConformanceFiles))]
    public void Conformance_data_is_served_as_the_node_writer_would_serve_it(string file)
    {
        using var document = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(ConformanceRoot, file)));
        var root = document.RootElement;
        var flags = Encoding.UTF8.GetBytes(root.GetProperty("flags").GetRawText());
        var segments = root.TryGetProperty("segments", out var s) ? Encoding.UTF8.GetBytes(s.GetRawText()) : null;

        AssertSameAsOracle(flags, segments);
    }

    [Theory]
    // Escapes the relaxed encoder writes differently from how they came: <, >, &, ', \/ and non-ASCII.
    [InlineData("""[{"feature":"a\u003cb\u003e","kind":"string","state":"on","offVariation":"x","defaultServe":{"variation":"x"},"variations":[{"identifier":"x","value":"\u00e9t\u00e9 \/ it\u0027s \ud83d\ude00 & <tag>"}],"version":3}]""")]
    // A null variationToTargetMap becomes [] where it stands; a missing one is added last.
    [InlineData("""[{"feature":"n","kind":"boolean","state":"on","offVariation":"false","defaultServe":{"variation":"true"},"variations":[{"identifier":"true","value":"true"},{"identifier":"false","value":"false"}],"variationToTargetMap":null,"version":1},{"feature":"m","kind":"boolean","state":"off","offVariation":"false","defaultServe":{"variation":"true"},"variations":[{"identifier":"true","value":"true"},{"identifier":"false","value":"false"}]}]""")]
    // Whitespace, numbers as written, nested arrays, non-object elements, unknown properties, a duplicate and an invalid flag.
    [InlineData("""[ 1, "x", [ {"feature":"inner"} ], null, { "feature" : "w", "kind":"int", "state":"on", "offVariation":"a", "defaultServe":{"variation":"a"}, "variations":[{"identifier":"a","value":"1.50e+2"}], "extra":{"deep":[1,2.0,-3E-2,true,false,null]}, "version": 12 }, {"feature":"w","version":13}, {"feature":"bad","kind":"boolean","state":"on","offVariation":"false","defaultServe":{"variation":"true"},"variations":[null],"version":1} ]""")]
    // Not an array, not JSON, text after the array, a flag with a wrongly typed field.
    [InlineData("""{"feature":"a"}""")]
    [InlineData("""[{"feature":"a",""")]
    [InlineData("""[{"feature":"a","kind":"boolean","state":"on","offVariation":"false","defaultServe":{"variation":"true"},"variations":[{"identifier":"true","value":"true"},{"identifier":"false","value":"false"}]}] trailing""")]
    [InlineData("""[{"feature":"t","version":"not a number"},{"feature":"a","kind":"boolean","state":"on","offVariation":"false","defaultServe":{"variation":"true"},"variations":[{"identifier":"true","value":"true"},{"identifier":"false","value":"false"}]}]""")]
    [InlineData("[]")]
    public void Hostile_flag_lists_are_served_as_the_node_writer_would_serve_them(string flags)
    {
        AssertSameAsOracle(Encoding.UTF8.GetBytes(flags), null);
    }

    [Theory]
    [InlineData("""[{"identifier":"g1","name":"G\u00fcnter \u003e","rules":[{"attribute":"email","op":"ends_with","values":["@x.com"]}],"servingRules":[{"ruleId":"r","priority":1,"clauses":[{"attribute":"age","op":"equal","values":["3"]}]}],"included":[{"identifier":"t1"}],"version":4},{"identifier":"g1","version":5},7,{"identifier":"g2","servingRules":null,"rules":null,"version":2},{"identifier":"","version":1}]""")]
    [InlineData("""[{"identifier":"g1","rules":[]""")]
    public void Group_lists_are_served_in_both_variants_as_the_node_writer_would_serve_them(string segments)
    {
        AssertSameAsOracle("[]"u8.ToArray(), Encoding.UTF8.GetBytes(segments));
    }

    [Fact]
    public void The_evaluation_model_parsed_from_the_served_bytes_equals_the_one_parsed_from_the_stored_data()
    {
        foreach (var file in ConformanceFileNames())
        {
            using var document = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(ConformanceRoot, file)));
            var root = document.RootElement;
            var flags = Encoding.UTF8.GetBytes(root.GetProperty("flags").GetRawText());
            var segments = root.TryGetProperty("segments", out var s) ? Encoding.UTF8.GetBytes(s.GetRawText()) : null;
            foreach (var andRules in new[] { false, true })
            {
                var snapshot = Builder(andRules).Build(new StoredEnvironment("env", flags, segments, []));
                Assert.False(snapshot.HasEvaluationPlan);
                var oracle = Oracle.Model(flags, segments, andRules);
                Assert.Equal(oracle.Flags.Select(Serialize), snapshot.Flags.Select(Serialize));
                Assert.Equal(
                    oracle.Segments.OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => g.Key + "=" + Serialize(g.Value)),
                    snapshot.SegmentForEvaluationById.OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => g.Key + "=" + Serialize(g.Value)));
                Assert.True(snapshot.HasEvaluationPlan);
                Assert.Equal(oracle.Flags.Count, snapshot.EvaluationPlan.Count);
            }
        }
    }

    [Fact]
    public void Versions_of_served_items_are_known_without_parsing_for_evaluation()
    {
        var snapshot = Builder(false).Build(new StoredEnvironment(
            "env",
            """[{"feature":"a","kind":"boolean","state":"on","offVariation":"false","defaultServe":{"variation":"true"},"variations":[{"identifier":"true","value":"true"},{"identifier":"false","value":"false"}],"version":7},{"feature":"b","kind":"boolean","state":"on","offVariation":"false","defaultServe":{"variation":"true"},"variations":[{"identifier":"true","value":"true"},{"identifier":"false","value":"false"}]}]"""u8.ToArray(),
            """[{"identifier":"g","version":9}]"""u8.ToArray(),
            []));

        Assert.Equal(new Dictionary<string, long> { ["a"] = 7, ["b"] = 0 }, snapshot.FlagVersions);
        Assert.Equal(new Dictionary<string, long> { ["g"] = 9 }, snapshot.SegmentVersions);
        Assert.False(snapshot.HasEvaluationPlan);
    }

    private static void AssertSameAsOracle(byte[] flags, byte[]? segments)
    {
        var snapshot = Builder(false).Build(new StoredEnvironment("env", flags, segments, []));
        var oracle = Oracle.Bodies(flags, segments);

        AssertBody(oracle.FeatureConfigs, snapshot.FeatureConfigs);
        Assert.NotNull(snapshot.FeatureConfigs.Wire); // list bodies go out in one write
        AssertBodies(oracle.FeatureConfigById, snapshot.FeatureConfigById);
        AssertBody(oracle.Segments, snapshot.Segments);
        AssertBodies(oracle.SegmentById, snapshot.SegmentById);
        AssertBody(oracle.SegmentsV2, snapshot.SegmentsV2);
        AssertBodies(oracle.SegmentV2ById, snapshot.SegmentV2ById);
    }

    private static void AssertBody(byte[] expected, ResponseBody actual)
    {
        Assert.Equal(Encoding.UTF8.GetString(expected), Encoding.UTF8.GetString(actual.ToArray()));
        if (actual.Wire is { } wire)
        {
            Assert.Equal(expected, wire);
        }

        Assert.Equal(ETagOf(expected), actual.ETag);
    }

    private static void AssertBodies(Dictionary<string, byte[]> expected, IReadOnlyDictionary<string, ResponseBody> actual)
    {
        Assert.Equal(expected.Keys.Order(StringComparer.Ordinal), actual.Keys.Order(StringComparer.Ordinal));
        foreach (var (id, body) in expected)
        {
            AssertBody(body, actual[id]);
        }
    }

    private static string ETagOf(byte[] bytes) => "\"" + Convert.ToHexStringLower(SHA256.HashData(bytes)[..16]) + "\"";

    private static string Serialize<T>(T value) => JsonSerializer.Serialize(value, typeof(T), ProxyJsonContext.Default);

    private static SnapshotBuilder Builder(bool andRules) =>
        new(new ProxyOptions { AndRules = andRules }, NullLogger<SnapshotBuilder>.Instance, NullLogger<EvaluationPlan>.Instance);

    /// <summary>The builder's earlier, DOM-based algorithm.</summary>
    private static class Oracle
    {
        private static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

        public sealed record Served(
            byte[] FeatureConfigs, Dictionary<string, byte[]> FeatureConfigById,
            byte[] Segments, Dictionary<string, byte[]> SegmentById,
            byte[] SegmentsV2, Dictionary<string, byte[]> SegmentV2ById);

        public sealed record Parsed(List<FeatureConfig> Flags, Dictionary<string, Segment> Segments);

        public static Served Bodies(byte[] flags, byte[]? segments)
        {
            var (flagNodes, _) = Flags(flags);
            var (legacy, v2, _) = Groups(segments, andRules: false);
            return new Served(
                Body(new JsonArray([.. flagNodes.Select(f => f.Node)])), flagNodes.ToDictionary(f => f.Id, f => Body(f.Node)),
                Body(new JsonArray([.. legacy.Select(g => g.Node)])), legacy.ToDictionary(g => g.Id, g => Body(g.Node)),
                Body(new JsonArray([.. v2.Select(g => g.Node)])), v2.ToDictionary(g => g.Id, g => Body(g.Node)));
        }

        public static Parsed Model(byte[] flags, byte[]? segments, bool andRules) =>
            new(Flags(flags).Parsed, Groups(segments, andRules).Parsed);

        private static (List<(string Id, JsonNode Node)>, List<FeatureConfig> Parsed) Flags(byte[] json)
        {
            var nodes = new List<(string, JsonNode)>();
            var parsed = new List<FeatureConfig>();
            foreach (var node in Array(json))
            {
                if (node["variationToTargetMap"] is null)
                {
                    node["variationToTargetMap"] = new JsonArray();
                }

                var flag = TryDeserialize(node, ProxyJsonContext.Default.FeatureConfig);
                if (flag is null || string.IsNullOrEmpty(flag.Feature) || parsed.Any(p => p.Feature == flag.Feature) || ConfigValidation.Problem(flag) is not null)
                {
                    continue;
                }

                parsed.Add(FlagPreparation.Prepare(flag));
                nodes.Add((flag.Feature, node));
            }

            return (nodes, parsed);
        }

        private static (List<(string Id, JsonNode Node)>, List<(string Id, JsonNode Node)>, Dictionary<string, Segment> Parsed) Groups(byte[]? json, bool andRules)
        {
            var legacy = new List<(string, JsonNode)>();
            var v2 = new List<(string, JsonNode)>();
            var parsed = new Dictionary<string, Segment>(StringComparer.Ordinal);
            foreach (var node in json is null ? [] : Array(json))
            {
                var segment = TryDeserialize(node, ProxyJsonContext.Default.Segment);
                if (segment is null || string.IsNullOrEmpty(segment.Identifier) || parsed.ContainsKey(segment.Identifier) || ConfigValidation.Problem(segment) is not null)
                {
                    continue;
                }

                var withLegacy = node.DeepClone().AsObject();
                withLegacy.Remove("servingRules");
                var withServing = node.DeepClone().AsObject();
                withServing.Remove("rules");
                legacy.Add((segment.Identifier, withLegacy));
                v2.Add((segment.Identifier, withServing));
                parsed[segment.Identifier] = FlagPreparation.Prepare(andRules ? segment : segment with { ServingRules = null });
            }

            return (legacy, v2, parsed);
        }

        private static List<JsonObject> Array(byte[] json)
        {
            try
            {
                if (JsonNode.Parse(json) is JsonArray array)
                {
                    var objects = array.OfType<JsonObject>().ToList();
                    array.Clear();
                    return objects;
                }
            }
            catch (JsonException)
            {
                // Unreadable: nothing served.
            }

            return [];
        }

        private static T? TryDeserialize<T>(JsonNode node, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> typeInfo)
            where T : class
        {
            try
            {
                return node.Deserialize(typeInfo);
            }
            catch (JsonException)
            {
                return null;
            }
        }

        private static byte[] Body(JsonNode node)
        {
            var buffer = new ArrayBufferWriter<byte>();
            using (var writer = new Utf8JsonWriter(buffer, WriterOptions))
            {
                node.WriteTo(writer);
            }

            buffer.Write("\n"u8);
            return buffer.WrittenSpan.ToArray();
        }
    }
}

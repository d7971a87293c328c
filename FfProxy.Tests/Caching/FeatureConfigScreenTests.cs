using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using FfProxy.Core.Caching;
using FfProxy.Core.Domain;

namespace FfProxy.Tests.Caching;

/// <summary>
/// The screen may only accept what the serializer reads into a <see cref="FeatureConfig"/> without error and the
/// validation finds no problem in, with the same identifier and version: held to that on every conformance flag
/// and on every single-value mutation of a flag that uses every property.
/// </summary>
public sealed class FeatureConfigScreenTests
{
    private static readonly string ConformanceRoot = Path.Combine(AppContext.BaseDirectory, "Evaluation", "ff-test-cases", "tests");

    /// <summary>Every property the model knows, each list with two entries.</summary>
    private const string Rich = """
        {"project":"p","environment":"e","feature":"rich","kind":"string","state":"on",
         "variations":[{"identifier":"a","value":"{\"x\":1}","name":"A","description":"d"},{"identifier":"b","value":"b"}],
         "defaultServe":{"variation":"a","distribution":{"bucketBy":"identifier","variations":[{"variation":"a","weight":60},{"variation":"b","weight":40}]}},
         "offVariation":"b",
         "rules":[{"ruleId":"r1","priority":1,"clauses":[{"id":"c1","attribute":"email","op":"in","values":["x","y"],"negate":false},{"attribute":"","op":"segmentMatch","values":["g"]}],
                   "serve":{"variation":null,"distribution":{"bucketBy":"email","variations":[{"variation":"a","weight":50},{"variation":"b","weight":50}]}}},
                  {"ruleId":"r2","priority":2,"clauses":[],"serve":{"variation":"b"}}],
         "prerequisites":[{"feature":"other","variations":["on","off"]},{"feature":"third","variations":[]}],
         "variationToTargetMap":[{"variation":"a","targets":[{"identifier":"t1","name":"T1"},{"identifier":"t2"}],"targetSegments":["g","h"]},{"variation":"b","targets":null,"targetSegments":null}],
         "version":42,"unknown":{"deep":[1,{"$id":"x"},null]}}
        """;

    /// <summary>Raw JSON put in place of one value: every token kind, numbers outside each type, escapes.</summary>
    private static readonly string[] Replacements =
    [
        "null", "0", "-7", "1.5", "1e2", "2147483648", "9223372036854775808", "true", "false", "\"\"", "\"s\"", "\"\\u0041\"",
        "\"\\ud800\"", "\"\\ud83d\\ude00\"", "{}", "{\"a\":1}", "[]", "[null]", "[\"x\"]", "[1]", "[{}]", "[{\"identifier\":\"i\"}]",
    ];

    [Fact]
    public void Every_conformance_flag_is_accepted_with_what_the_serializer_reads()
    {
        var flags = 0;
        foreach (var file in Directory.EnumerateFiles(ConformanceRoot, "*.json", SearchOption.AllDirectories))
        {
            using var document = JsonDocument.Parse(File.ReadAllBytes(file));
            foreach (var flag in document.RootElement.GetProperty("flags").EnumerateArray())
            {
                var json = Encoding.UTF8.GetBytes(flag.GetRawText());
                var expected = Verdict(json);
                Assert.NotNull(expected);
                Assert.True(FeatureConfigScreen.TryAccept(json, out var feature, out var version), file);
                Assert.Equal(expected.Value, (feature, version));
                flags++;
            }
        }

        Assert.True(flags > 50, $"only {flags} conformance flags");
    }

    [Fact]
    public void No_mutation_of_a_value_is_accepted_unless_the_serializer_and_the_validation_accept_it_too()
    {
        Assert.True(FeatureConfigScreen.TryAccept(Encoding.UTF8.GetBytes(Rich), out _, out _));
        var accepted = 0;
        var refused = 0;
        var cases = 0;
        foreach (var mutant in Mutants())
        {
            cases++;
            var json = Encoding.UTF8.GetBytes(mutant);
            var expected = Verdict(json);
            if (FeatureConfigScreen.TryAccept(json, out var feature, out var version))
            {
                Assert.True(expected is not null, "accepted, but the serializer or the validation refuses: " + mutant);
                Assert.Equal(expected.Value, (feature, version));
                accepted++;
            }
            else if (expected is null)
            {
                refused++;
            }
        }

        // Both verdicts are exercised: well-typed replacements pass, wrong ones are left to the serializer.
        Assert.True(cases > 1000, $"{cases} cases");
        Assert.True(accepted > 200, $"{accepted} accepted of {cases}");
        Assert.True(refused > 200, $"{refused} refused by both of {cases}");
    }

    [Theory]
    // A name the serializer unescapes, a duplicate, a metadata-like name, a missing or empty identifier, text after the object.
    [InlineData("""{"fe\u0061ture":"a","version":1}""")]
    [InlineData("""{"feature":"a","feature":"b"}""")]
    [InlineData("""{"feature":"a","$id":"1"}""")]
    [InlineData("""{"version":1}""")]
    [InlineData("""{"feature":""}""")]
    [InlineData("""{"feature":"a"} {}""")]
    [InlineData("""[{"feature":"a"}]""")]
    public void Unusual_text_is_left_to_the_serializer(string json)
    {
        Assert.False(FeatureConfigScreen.TryAccept(Encoding.UTF8.GetBytes(json), out _, out _));
    }

    /// <summary>What the snapshot builder decided before the screen: serializer, non-empty identifier, validation.</summary>
    private static (string Feature, long Version)? Verdict(byte[] json)
    {
        FeatureConfig? flag;
        try
        {
            flag = JsonSerializer.Deserialize(json, ProxyJsonContext.Default.FeatureConfig);
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException)
        {
            return null;
        }

        return flag is null || string.IsNullOrEmpty(flag.Feature) || ConfigValidation.Problem(flag) is not null
            ? null
            : (flag.Feature, flag.Version ?? 0);
    }

    /// <summary>The rich flag with one value (a property's or a list entry's, at any depth) replaced.</summary>
    private static IEnumerable<string> Mutants()
    {
        const string Marker = "\"__replaced__\"";
        var root = JsonNode.Parse(Rich)!;
        foreach (var path in Paths(root, []))
        {
            var copy = root.DeepClone();
            Replace(copy, path, JsonValue.Create("__replaced__"));
            var text = copy.ToJsonString();
            foreach (var replacement in Replacements)
            {
                yield return text.Replace(Marker, replacement, StringComparison.Ordinal);
            }
        }
    }

    private static IEnumerable<object[]> Paths(JsonNode node, object[] prefix)
    {
        switch (node)
        {
            case JsonObject o:
                foreach (var (name, child) in o)
                {
                    object[] path = [.. prefix, name];
                    yield return path;
                    if (child is not null)
                    {
                        foreach (var deeper in Paths(child, path))
                        {
                            yield return deeper;
                        }
                    }
                }

                break;
            case JsonArray a:
                for (var i = 0; i < a.Count; i++)
                {
                    object[] path = [.. prefix, i];
                    yield return path;
                    if (a[i] is { } child)
                    {
                        foreach (var deeper in Paths(child, path))
                        {
                            yield return deeper;
                        }
                    }
                }

                break;
        }
    }

    private static void Replace(JsonNode root, object[] path, JsonNode value)
    {
        var parent = root;
        foreach (var step in path[..^1])
        {
            parent = step is string name ? parent[name]! : parent[(int)step]!;
        }

        if (path[^1] is string last)
        {
            parent[last] = value;
        }
        else
        {
            parent[(int)path[^1]] = value;
        }
    }
}

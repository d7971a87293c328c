using System.Text;
using System.Text.Json;
using FfProxy.Core.Domain;
using FfProxy.Core.Evaluation;

namespace FfProxy.Tests.Evaluation;

public sealed class EvaluatorTests
{
    private readonly Evaluator _evaluator = new();

    [Theory]
    [InlineData("", 0u)]
    [InlineData("hello", 0x248bfa47u)]
    [InlineData("identifier:alice", 488218291u)]
    [InlineData("identifier:dave", 2473837244u)]
    [InlineData("name:Heidi", 3873206800u)]
    [InlineData("accountId:1234", 2392794891u)]
    public void Murmur3_matches_the_reference_vectors(string input, uint expected)
    {
        Assert.Equal(expected, Murmur3.Hash32(Encoding.UTF8.GetBytes(input)));
    }

    [Theory]
    [InlineData("identifier", "alice", 92)]
    [InlineData("identifier", "carol", 17)]
    [InlineData("identifier", "heidi", 100)]
    [InlineData("identifier", "victor", 53)]
    [InlineData("email", "victor@example.com", 1)]
    public void Bucket_is_unsigned_hash_mod_100_plus_1(string bucketBy, string value, int bucket)
    {
        Assert.Equal(bucket, Murmur3.Bucket(bucketBy, value));
    }

    [Fact]
    public void Bucket_of_a_long_value_uses_pooled_bytes_and_still_matches()
    {
        var value = new string('x', 1000);
        var expected = (int)(Murmur3.Hash32(Encoding.UTF8.GetBytes("identifier:" + value)) % 100) + 1;

        Assert.Equal(expected, Murmur3.Bucket("identifier", value));
    }

    [Theory]
    [InlineData("3.0", "3")]
    [InlineData("2.5", "2.5")]
    [InlineData("42", "42")]
    [InlineData("12345678901", "12345678901")]
    [InlineData("1e21", "1000000000000000000000")]
    [InlineData("-0.000001", "-0.000001")]
    [InlineData("1.5e-7", "0.00000015")]
    [InlineData("true", "true")]
    [InlineData("false", "false")]
    [InlineData("null", "")]
    [InlineData("[1,2]", "")]
    [InlineData("\"text\"", "text")]
    public void Attribute_values_become_go_style_strings(string json, string expected)
    {
        using var document = JsonDocument.Parse(json);

        Assert.Equal(expected, AttributeValues.ToText(document.RootElement));
    }

    [Fact]
    public void Identifier_and_name_are_read_from_the_target_not_its_attributes()
    {
        var target = Target("t1", ("identifier", "spoofed"), ("name", "spoofed"));

        Assert.Equal("t1", AttributeValues.Get(target, "identifier"));
        Assert.Equal("", AttributeValues.Get(target, "name"));
        Assert.Equal("", AttributeValues.Get(target, "missing"));
    }

    [Fact]
    public void Prerequisite_cycle_fails_closed_to_the_off_variation()
    {
        var a = BooleanFlag("a") with { Prerequisites = [new Prerequisite { Feature = "b", Variations = ["on"] }] };
        var b = BooleanFlag("b") with { Prerequisites = [new Prerequisite { Feature = "a", Variations = ["on"] }] };

        var result = _evaluator.Evaluate(a, Target("t"), new Flags([a, b]));

        Assert.Equal("off", result.Variation!.Identifier);
    }

    [Fact]
    public void Flag_that_requires_itself_fails_closed()
    {
        var a = BooleanFlag("a") with { Prerequisites = [new Prerequisite { Feature = "a", Variations = ["on"] }] };

        Assert.Equal("off", _evaluator.Evaluate(a, Target("t"), new Flags([a])).Variation!.Identifier);
    }

    [Fact]
    public void Prerequisite_chain_deeper_than_the_limit_fails_closed()
    {
        var flags = Enumerable.Range(0, Evaluator.MaxDepth + 5)
            .Select(i => BooleanFlag("f" + i) with { Prerequisites = [new Prerequisite { Feature = "f" + (i + 1), Variations = ["on"] }] })
            .ToList();

        Assert.Equal("off", _evaluator.Evaluate(flags[0], Target("t"), new Flags(flags)).Variation!.Identifier);
    }

    [Fact]
    public void Prerequisite_chain_within_the_limit_passes()
    {
        var flags = Enumerable.Range(0, 10)
            .Select(i => BooleanFlag("f" + i) with { Prerequisites = i < 9 ? [new Prerequisite { Feature = "f" + (i + 1), Variations = ["on"] }] : null })
            .ToList();

        Assert.Equal("on", _evaluator.Evaluate(flags[0], Target("t"), new Flags(flags)).Variation!.Identifier);
    }

    [Fact]
    public void Group_whose_rule_matches_itself_does_not_recurse_forever()
    {
        var group = new Segment { Identifier = "g", Rules = [new Clause { Op = "segmentMatch", Values = ["g"] }] };
        var flag = BooleanFlag("f", serves: "off") with { Rules = [Rule(new Clause { Op = "segmentMatch", Values = ["g"] })] };

        Assert.Equal("off", _evaluator.Evaluate(flag, Target("t"), new Flags([flag], [group])).Variation!.Identifier);
    }

    [Theory]
    [InlineData("match", "^ab+c$", "abbbc", true)]
    [InlineData("match", "b+", "abbbc", true)]
    [InlineData("match", "([invalid", "([invalid", false)]
    [InlineData("gt", "9", "10", false)]
    [InlineData("gt", "10", "9", true)]
    [InlineData("equal", "STRASSE", "strasse", true)]
    [InlineData("equal", "i", "\u0130", false)]
    [InlineData("equal_sensitive", "Abc", "abc", false)]
    [InlineData("in", "x", "X", false)]
    [InlineData("starts_with", "", "anything", true)]
    [InlineData("starts_with", "", "", false)]
    [InlineData("in", "", "", false)]
    public void Operators_compare_ordinally(string op, string value, string attribute, bool matches)
    {
        var flag = BooleanFlag("f", serves: "off") with { Rules = [Rule(new Clause { Attribute = "a", Op = op, Values = [value] })] };
        var expected = matches ? "on" : "off";

        Assert.Equal(expected, _evaluator.Evaluate(flag, Target("t", ("a", attribute)), new Flags([flag])).Variation!.Identifier);
    }

    [Fact]
    public void Unknown_variation_is_an_error_not_a_fallback()
    {
        var flag = BooleanFlag("f") with { DefaultServe = new Serve { Variation = "nope" } };

        var result = _evaluator.Evaluate(flag, Target("t"), new Flags([flag]));

        Assert.Null(result.Variation);
        Assert.Contains("nope", result.Error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("TRUE", true)]
    [InlineData("True", true)]
    [InlineData("yes", false)]
    [InlineData("", false)]
    public void Booleans_compare_lower_cased_text_with_true(string value, bool expected) =>
        Assert.Equal(expected, TypedValues.ToBool(value));

    [Theory]
    [InlineData("1e3", 1000d)]
    [InlineData("-0.5", -0.5d)]
    [InlineData("3.25", 3.25d)]
    public void Numbers_parse_like_go_parse_float(string value, double expected)
    {
        Assert.True(TypedValues.TryToNumber(value, out var number));
        Assert.Equal(expected, number);
    }

    [Theory]
    [InlineData("abc")]
    [InlineData("")]
    [InlineData(" 1")]
    [InlineData("1e999")]
    public void Non_numbers_fail_so_the_caller_gets_its_default(string value) =>
        Assert.False(TypedValues.TryToNumber(value, out _));

    [Theory]
    [InlineData("{\"a\":1}", true)]
    [InlineData("[1]", false)]
    [InlineData("\"s\"", false)]
    [InlineData("{bad", false)]
    public void Json_values_must_be_objects(string value, bool ok) =>
        Assert.Equal(ok, TypedValues.TryToJsonObject(value, out _));

    [Fact]
    public void Preparation_sorts_rules_by_priority_keeping_equal_priorities_in_order()
    {
        var flag = BooleanFlag("f") with
        {
            Rules = [Rule(null, 2, "c"), Rule(null, 1, "a"), Rule(null, 2, "d"), Rule(null, 1, "b")],
        };

        var prepared = FlagPreparation.Prepare(flag);

        Assert.Equal(["a", "b", "c", "d"], prepared.Rules!.Select(r => r.RuleId!).ToArray());
    }

    private static FeatureConfig BooleanFlag(string id, string serves = "on") => new()
    {
        Feature = id,
        Kind = "boolean",
        State = "on",
        Variations = [new Variation { Identifier = "on", Value = "true" }, new Variation { Identifier = "off", Value = "false" }],
        DefaultServe = new Serve { Variation = serves },
        OffVariation = "off",
    };

    private static ServingRule Rule(Clause? clause, int priority = 1, string? id = null) => new()
    {
        RuleId = id,
        Priority = priority,
        Clauses = clause is null ? [] : [clause],
        Serve = new Serve { Variation = "on" },
    };

    private static Target Target(string id, params (string Key, string Value)[] attributes) => new()
    {
        Identifier = id,
        Attributes = attributes.ToDictionary(a => a.Key, a => JsonSerializer.SerializeToElement(a.Value, ProxyJsonContext.Default.String)),
    };

    private sealed class Flags(IEnumerable<FeatureConfig> flags, IEnumerable<Segment>? segments = null) : IFlagSource
    {
        private readonly Dictionary<string, FeatureConfig> _flags = flags.ToDictionary(f => f.Feature);
        private readonly Dictionary<string, Segment> _segments = (segments ?? []).ToDictionary(s => s.Identifier);

        public FeatureConfig? GetFlag(string identifier) => _flags.GetValueOrDefault(identifier);

        public Segment? GetSegment(string identifier) => _segments.GetValueOrDefault(identifier);
    }
}

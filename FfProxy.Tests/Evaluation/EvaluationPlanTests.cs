using System.Buffers;
using System.Diagnostics;
using System.Text.Encodings.Web;
using System.Text.Json;
using FfProxy.Core.Domain;
using FfProxy.Core.Evaluation;

namespace FfProxy.Tests.Evaluation;

/// <summary>
/// The compiled plan against the reference <see cref="Evaluator"/>: the same variation (or the same failure) for
/// every conformance case and for every flag × target of the generated 200-flag × 20-group environment, the same
/// response bytes, and no allocation per flag.
/// </summary>
public sealed class EvaluationPlanTests
{
    private static readonly string ConformanceRoot = Path.Combine(AppContext.BaseDirectory, "Evaluation", "ff-test-cases", "tests");
    private static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    [Theory]
    [MemberData(nameof(ConformanceTests.Cases), MemberType = typeof(ConformanceTests))]
    public void Plan_agrees_with_the_reference_on_every_conformance_case(ConformanceCase @case)
    {
        using var document = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(ConformanceRoot, @case.File)));
        var root = document.RootElement;
        var source = Source.FromJson(root.GetProperty("flags"), root.TryGetProperty("segments", out var s) && s.ValueKind == JsonValueKind.Array ? s : default);
        var targets = root.TryGetProperty("targets", out var t) && t.ValueKind == JsonValueKind.Array
            ? t.EnumerateArray().Select(e => e.Deserialize(ProxyJsonContext.Default.Target)).ToList()
            : [];
        var feature = root.GetProperty("tests")[@case.Index].GetProperty("flag").GetString()!;

        // The case's flag for every target of its file (and none), not only the one it names.
        foreach (var target in targets.Append(null))
        {
            AssertAgrees(source, feature, target);
        }

        AssertSameBody(source, targets.Append(null));
    }

    [Fact]
    public async Task Plan_agrees_with_the_reference_on_the_generated_environment()
    {
        var environment = await GeneratedEnvironment.WriteAsync();
        try
        {
            foreach (var withServingRules in new[] { true, false })
            {
                var source = environment.Source(withServingRules);
                Assert.Equal(200, source.Plan.Count);
                var targets = environment.Targets.Append(null).Append(new Target { Identifier = "" }).Append(new Target { Identifier = "stranger" }).ToList();
                foreach (var target in targets)
                {
                    foreach (var flag in source.Flags)
                    {
                        AssertAgrees(source, flag.Feature, target);
                    }
                }

                AssertSameBody(source, targets);
            }
        }
        finally
        {
            Directory.Delete(environment.Directory, recursive: true);
        }
    }

    [Fact]
    public async Task Evaluating_every_flag_allocates_nothing_beyond_the_target_attributes()
    {
        var environment = await GeneratedEnvironment.WriteAsync();
        try
        {
            var plan = environment.Source(withServingRules: true).Plan;
            var buffer = ArrayPool<byte>.Shared.Rent(plan.AllResponseLength);
            try
            {
                // A target without attributes: identifier and name are read without copying.
                var bare = new Target { Identifier = "user-7", Name = "User 7" };
                Assert.Equal(0, AllocatedBy(() => plan.WriteAll(bare, buffer)));

                // With attributes, each is turned into text once per request, whatever the number of flags.
                foreach (var target in environment.Targets.Take(10))
                {
                    var attributes = AllocatedBy(() =>
                    {
                        foreach (var name in target.Attributes!.Keys)
                        {
                            _ = AttributeValues.Get(target, name);
                        }
                    });
                    Assert.InRange(AllocatedBy(() => plan.WriteAll(target, buffer)), 0, attributes);
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
        finally
        {
            Directory.Delete(environment.Directory, recursive: true);
        }
    }

    public static TheoryData<string> EdgeCases() => [.. Edges().Keys];

    /// <summary>Cycles, depth limits, nesting, unknown references, empty serves: where the plan's memo and indices could diverge.</summary>
    [Theory]
    [MemberData(nameof(EdgeCases))]
    public void Plan_agrees_with_the_reference_at_the_edges(string edge)
    {
        var source = Edges()[edge]();
        Target?[] targets =
        [
            null,
            new Target { Identifier = "t" },
            new Target { Identifier = "in", Name = "In", Attributes = new() { ["a"] = JsonSerializer.SerializeToElement("abbbc"), ["n"] = JsonSerializer.SerializeToElement(10) } },
            new Target { Identifier = "out", Attributes = new() { ["a"] = JsonSerializer.SerializeToElement("x") } },
        ];
        foreach (var target in targets)
        {
            foreach (var flag in source.Flags)
            {
                AssertAgrees(source, flag.Feature, target);
            }
        }

        AssertSameBody(source, targets);
    }

    private static Dictionary<string, Func<Source>> Edges()
    {
        static FeatureConfig Flag(string id, string serves = "on") => new()
        {
            Feature = id,
            Kind = "boolean",
            State = "on",
            Variations = [new Variation { Identifier = "on", Value = "true" }, new Variation { Identifier = "off", Value = "false" }],
            DefaultServe = new Serve { Variation = serves },
            OffVariation = "off",
        };
        static ServingRule Rule(Serve? serve, params Clause[] clauses) => new() { Clauses = clauses, Serve = serve };
        static Clause InGroups(params string[] groups) => new() { Op = "segmentMatch", Values = groups };
        static Serve Serves(string variation) => new() { Variation = variation };
        static Prerequisite Requires(string feature, params string[] variations) => new() { Feature = feature, Variations = variations };

        return new()
        {
            ["prerequisite cycle"] = () => new Source(
                [Flag("a") with { Prerequisites = [Requires("b", "on")] }, Flag("b") with { Prerequisites = [Requires("a", "on")] }], []),
            ["flag requiring itself"] = () => new Source([Flag("a") with { Prerequisites = [Requires("a", "on")] }], []),
            ["chain deeper than the limit"] = () => new Source(
                Enumerable.Range(0, Evaluator.MaxDepth + 5).Select(i => Flag("f" + i) with { Prerequisites = [Requires("f" + (i + 1), "on")] }), []),
            ["chain within the limit, diamond"] = () => new Source(
            [
                Flag("top") with { Prerequisites = [Requires("left", "on"), Requires("right", "on", "off")] },
                Flag("left") with { Prerequisites = [Requires("base", "on")] },
                Flag("right", "off") with { Prerequisites = [Requires("base", "on"), Requires("missing", "on")] },
                Flag("base"),
                Flag("refused") with { Prerequisites = [Requires("right", "on")] },
                Flag("broken parent") with { Prerequisites = [Requires("broken", "on")] },
                Flag("broken", "nope"),
            ], []),
            ["group matching itself"] = () => new Source(
                [Flag("f", "off") with { Rules = [Rule(Serves("on"), InGroups("g"))] }],
                [new Segment { Identifier = "g", Rules = [InGroups("g")] }]),
            ["groups nested in a cycle, asked in both orders"] = () => new Source(
            [
                Flag("g1 first", "off") with { Rules = [Rule(Serves("on"), InGroups("g1", "g2"))] },
                Flag("g2 first", "off") with { Rules = [Rule(Serves("on"), InGroups("g2", "g1"))] },
                Flag("g2 only", "off") with { Rules = [Rule(Serves("on"), InGroups("g2"))] },
                Flag("g3 via map", "off") with { VariationToTargetMap = [new VariationMap { Variation = "on", TargetSegments = ["g3"] }] },
            ],
            [
                new Segment { Identifier = "g1", Rules = [InGroups("g2")] },
                new Segment { Identifier = "g2", Rules = [InGroups("g1"), new Clause { Attribute = "a", Op = "match", Values = ["b+"] }] },
                new Segment { Identifier = "g3", Excluded = [new Target { Identifier = "out" }], ServingRules = [new GroupServingRule { Clauses = [InGroups("g2"), new Clause { Attribute = "n", Op = "gt", Values = ["1"] }] }] },
            ]),
            ["unknown groups, empty and missing serves"] = () => new Source(
            [
                Flag("unknown group", "off") with { Rules = [Rule(Serves("on"), InGroups("nowhere"))] },
                Flag("rule without serve", "off") with { Rules = [Rule(null), Rule(Serves("on"))] },
                Flag("rule serving empty", "on") with { Rules = [Rule(Serves("")), Rule(Serves("off"))] },
                Flag("rule serving unknown") with { Rules = [Rule(Serves("nope"))] },
                Flag("empty distribution ends the rules", "off") with { Rules = [Rule(new Serve { Distribution = new Distribution { BucketBy = "a" } }), Rule(Serves("on"))] },
                Flag("map with empty variation", "off") with
                {
                    VariationToTargetMap = [new VariationMap { Variation = "", Targets = [new TargetMap { Identifier = "in" }] }, new VariationMap { Variation = "on", Targets = [new TargetMap { Identifier = "in" }] }],
                    Rules = [Rule(Serves("on"), new Clause { Attribute = "identifier", Op = "equal", Values = ["IN"] })],
                },
                Flag("rollout by missing attribute") with
                {
                    DefaultServe = new Serve { Distribution = new Distribution { BucketBy = "missing", Variations = [new WeightedVariation { Variation = "on", Weight = 50 }, new WeightedVariation { Variation = "off", Weight = 50 }] } },
                },
                Flag("off flag") with { State = "off" },
                Flag("bad clauses", "off") with { Rules = [Rule(Serves("on"), new Clause { Attribute = "a", Op = "what", Values = ["x"] }), Rule(Serves("on"), new Clause { Attribute = "a", Op = "in", Values = [] }), Rule(Serves("on"), new Clause { Attribute = "a", Op = "match", Values = ["([invalid"] })] },
            ],
            [new Segment { Identifier = "empty" }]),
        };
    }

    [Fact]
    public void Failures_carry_the_reference_message_and_an_empty_evaluation_object()
    {
        var flag = new FeatureConfig
        {
            Feature = "broken",
            Kind = "boolean",
            State = "on",
            Variations = [new Variation { Identifier = "true", Value = "true" }],
            DefaultServe = new Serve { Variation = "nope" },
            OffVariation = "true",
        };
        var source = new Source([flag], []);

        var planned = source.Plan.Evaluate(0, new Target { Identifier = "t" });

        Assert.Null(planned.Variation);
        Assert.Equal(new Evaluator().Evaluate(flag, new Target { Identifier = "t" }, source).Error, planned.Error);
        Assert.True(source.Plan.EvaluationBody(0, null).IsEmpty);
        AssertSameBody(source, [null]);
    }

    private static void AssertAgrees(Source source, string feature, Target? target)
    {
        var flag = source.GetFlag(feature)!;
        var expected = new Evaluator().Evaluate(flag, target, source);
        Assert.True(source.Plan.TryGetIndex(feature, out var index));
        var actual = source.Plan.Evaluate(index, target);
        var who = target?.Identifier ?? "(no target)";
        Assert.True(ReferenceEquals(expected.Variation, actual.Variation), $"{feature} for {who}: expected {expected.Variation?.Identifier ?? expected.Error}, got {actual.Variation?.Identifier ?? actual.Error}");
        Assert.Equal(expected.Error, actual.Error);

        var body = source.Plan.EvaluationBody(index, target);
        if (expected.Variation is null)
        {
            Assert.True(body.IsEmpty);
        }
        else
        {
            Assert.Equal(Encode(w => WriteEvaluation(w, flag, expected.Variation)), body.ToArray());
        }
    }

    /// <summary>The evaluations body as the handler wrote it before the plan: the reference, serialised per flag.</summary>
    private static void AssertSameBody(Source source, IEnumerable<Target?> targets)
    {
        var buffer = new byte[source.Plan.AllResponseLength];
        foreach (var target in targets)
        {
            var expected = Encode(w =>
            {
                w.WriteStartArray();
                foreach (var flag in source.Flags)
                {
                    WriteEvaluation(w, flag, new Evaluator().Evaluate(flag, target, source).Variation);
                }

                w.WriteEndArray();
            });
            var length = source.Plan.WriteAll(target, buffer);
            Assert.Equal(System.Text.Encoding.UTF8.GetString(expected), System.Text.Encoding.UTF8.GetString(buffer, 0, length));
        }
    }

    private static void WriteEvaluation(Utf8JsonWriter writer, FeatureConfig flag, Variation? variation)
    {
        writer.WriteStartObject();
        writer.WriteString("flag", flag.Feature);
        writer.WriteString("identifier", variation?.Identifier ?? "");
        writer.WriteString("kind", flag.Kind);
        writer.WriteString("value", variation?.Value ?? "");
        writer.WriteEndObject();
    }

    private static byte[] Encode(Action<Utf8JsonWriter> write)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer, WriterOptions))
        {
            write(writer);
        }

        buffer.Write("\n"u8);
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>Bytes allocated on this thread by <paramref name="action"/>, after two runs to warm it up.</summary>
    private static long AllocatedBy(Action action)
    {
        action();
        action();
        var before = GC.GetAllocatedBytesForCurrentThread();
        action();
        return GC.GetAllocatedBytesForCurrentThread() - before;
    }

    /// <summary>Prepared flags and groups as a snapshot holds them, for the reference, and their compiled plan.</summary>
    private sealed class Source : IFlagSource
    {
        private readonly Dictionary<string, FeatureConfig> _flags = new(StringComparer.Ordinal);
        private readonly Dictionary<string, Segment> _segments = new(StringComparer.Ordinal);

        public Source(IEnumerable<FeatureConfig> flags, IEnumerable<Segment> segments)
        {
            foreach (var flag in flags.Select(FlagPreparation.Prepare))
            {
                if (_flags.TryAdd(flag.Feature, flag))
                {
                    Flags.Add(flag);
                }
            }

            foreach (var segment in segments.Select(FlagPreparation.Prepare))
            {
                _segments[segment.Identifier] = segment;
            }

            Plan = EvaluationPlan.Compile(Flags, _segments);
        }

        public List<FeatureConfig> Flags { get; } = [];

        public EvaluationPlan Plan { get; }

        public static Source FromJson(JsonElement flags, JsonElement segments) => new(
            flags.EnumerateArray().Select(f => f.Deserialize(ProxyJsonContext.Default.FeatureConfig)!),
            segments.ValueKind == JsonValueKind.Array ? segments.EnumerateArray().Select(s => s.Deserialize(ProxyJsonContext.Default.Segment)!) : []);

        public FeatureConfig? GetFlag(string identifier) => _flags.GetValueOrDefault(identifier);

        public Segment? GetSegment(string identifier) => _segments.GetValueOrDefault(identifier);
    }

    /// <summary>bench/generate-config.py's environment (200 flags, 20 groups, 100 targets; fixed seed).</summary>
    private sealed record GeneratedEnvironment(string Directory, byte[] Flags, byte[] Segments, List<Target> Targets)
    {
        private const string Environment = "0b6f7c1e-2d3a-4b5c-8d9e-af0b1c2d3e4f";

        public static async Task<GeneratedEnvironment> WriteAsync()
        {
            var directory = Path.Combine(Path.GetTempPath(), "ffproxy-plan-" + Guid.NewGuid().ToString("N"));
            var script = Path.Combine(RepositoryRoot(), "bench", "generate-config.py");
            using (var python = Process.Start(new ProcessStartInfo("python3", [script, directory, Environment, "6a1d2c3b-4e5f-4a6b-8c7d-9e0f1a2b3c4d", "200", "20", "100"])
                   {
                       RedirectStandardError = true,
                   })!)
            {
                var errors = await python.StandardError.ReadToEndAsync();
                await python.WaitForExitAsync();
                Assert.True(python.ExitCode == 0, "bench/generate-config.py failed: " + errors);
            }

            var env = Path.Combine(directory, "env-" + Environment);
            var targets = JsonSerializer.Deserialize(await File.ReadAllBytesAsync(Path.Combine(env, "targets.json")), ProxyJsonContext.Default.ListTarget)!;
            return new GeneratedEnvironment(
                directory,
                await File.ReadAllBytesAsync(Path.Combine(env, "feature_config.json")),
                await File.ReadAllBytesAsync(Path.Combine(env, "segments.json")),
                targets);
        }

        /// <summary>Groups with their servingRules (AND_RULES) or without them, as the snapshot gives evaluation.</summary>
        public Source Source(bool withServingRules)
        {
            using var flags = JsonDocument.Parse(Flags);
            using var segments = JsonDocument.Parse(Segments);
            var source = EvaluationPlanTests.Source.FromJson(flags.RootElement, segments.RootElement);
            return withServingRules
                ? source
                : new Source(source.Flags, segments.RootElement.EnumerateArray().Select(s => s.Deserialize(ProxyJsonContext.Default.Segment)! with { ServingRules = null }));
        }

        private static string RepositoryRoot()
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "FfProxy.sln")))
                {
                    return dir.FullName;
                }
            }

            throw new InvalidOperationException("FfProxy.sln not found above " + AppContext.BaseDirectory);
        }
    }
}

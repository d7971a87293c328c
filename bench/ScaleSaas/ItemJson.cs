using System.Text.Json;

namespace FfProxy.Bench.ScaleSaas;

/// <summary>
/// The JSON of generated flags and target groups (spec §2.6, §2.8), written once per version so that answering a
/// request costs a copy, not a serialization. Flags are of the four kinds in turn, with rules on target groups and
/// attributes, a percentage rollout, and individual targets: about the size of a real account's flags.
/// </summary>
public static class ItemJson
{
    private static readonly string[] Kinds = ["boolean", "string", "int", "json"];

    public static string FlagId(int index) => "flag-" + index.ToString("D3", System.Globalization.CultureInfo.InvariantCulture);

    public static string GroupId(int index) => "group-" + index.ToString("D3", System.Globalization.CultureInfo.InvariantCulture);

    public static byte[] Flag(string environment, int index, int groups, long version)
    {
        var kind = Kinds[index % Kinds.Length];
        string[] values = kind switch
        {
            "boolean" => ["true", "false"],
            "string" => ["red", "green", "blue"],
            "int" => ["10", "20", "30"],
            _ => ["{\"tier\":\"basic\",\"limit\":10}", "{\"tier\":\"gold\",\"limit\":100}", "{\"tier\":\"platinum\",\"limit\":1000}"],
        };
        var ids = kind == "boolean" ? values : values.Select((_, i) => "v" + i.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray();

        using var buffer = new MemoryStream(1024);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("project", "scale-project");
            w.WriteString("environment", environment);
            w.WriteString("feature", FlagId(index));
            w.WriteString("kind", kind);
            w.WriteString("state", index % 5 == 4 ? "off" : "on");
            w.WriteStartArray("variations");
            for (var i = 0; i < values.Length; i++)
            {
                w.WriteStartObject();
                w.WriteString("identifier", ids[i]);
                w.WriteString("name", "Variation " + ids[i]);
                w.WriteString("value", values[i]);
                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteStartObject("defaultServe");
            if (index % 3 == 0)
            {
                w.WriteStartObject("distribution");
                w.WriteString("bucketBy", "identifier");
                w.WriteStartArray("variations");
                for (var i = 0; i < ids.Length; i++)
                {
                    w.WriteStartObject();
                    w.WriteString("variation", ids[i]);
                    w.WriteNumber("weight", i == 0 ? 100 - (ids.Length - 1) * (100 / ids.Length) : 100 / ids.Length);
                    w.WriteEndObject();
                }

                w.WriteEndArray();
                w.WriteEndObject();
            }
            else
            {
                w.WriteString("variation", ids[0]);
            }

            w.WriteEndObject();
            w.WriteString("offVariation", ids[^1]);
            w.WriteStartArray("rules");
            w.WriteStartObject();
            w.WriteString("ruleId", $"rule-{index}-1");
            w.WriteNumber("priority", 1);
            w.WriteStartArray("clauses");
            WriteClause(w, $"c-{index}-1", "", "segmentMatch", [GroupId(groups == 0 ? 0 : index % groups)]);
            w.WriteEndArray();
            w.WriteStartObject("serve");
            w.WriteString("variation", ids[^1]);
            w.WriteEndObject();
            w.WriteEndObject();
            w.WriteStartObject();
            w.WriteString("ruleId", $"rule-{index}-2");
            w.WriteNumber("priority", 2);
            w.WriteStartArray("clauses");
            WriteClause(w, $"c-{index}-2", "email", "ends_with", ["@example.com", "@example.org"]);
            w.WriteEndArray();
            w.WriteStartObject("serve");
            w.WriteString("variation", ids[0]);
            w.WriteEndObject();
            w.WriteEndObject();
            w.WriteEndArray();
            w.WriteStartArray("prerequisites");
            w.WriteEndArray();
            w.WriteStartArray("variationToTargetMap");
            w.WriteStartObject();
            w.WriteString("variation", ids[0]);
            w.WriteStartArray("targets");
            for (var t = 0; t < 2; t++)
            {
                w.WriteStartObject();
                w.WriteString("identifier", $"user-{index}-{t}");
                w.WriteString("name", $"User {index} {t}");
                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteStartArray("targetSegments");
            w.WriteEndArray();
            w.WriteEndObject();
            w.WriteEndArray();
            w.WriteNumber("version", version);
            w.WriteEndObject();
        }

        return buffer.ToArray();
    }

    public static byte[] Group(string environment, int index, long version)
    {
        using var buffer = new MemoryStream(1024);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("identifier", GroupId(index));
            w.WriteString("name", "Group " + index.ToString(System.Globalization.CultureInfo.InvariantCulture));
            w.WriteString("environment", environment);
            w.WriteStartArray("included");
            for (var t = 0; t < 3; t++)
            {
                w.WriteStartObject();
                w.WriteString("account", "");
                w.WriteString("environment", "");
                w.WriteString("identifier", $"member-{index}-{t}");
                w.WriteString("name", $"Member {index} {t}");
                w.WriteString("org", "");
                w.WriteString("project", "");
                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteStartArray("excluded");
            w.WriteEndArray();
            w.WriteStartArray("rules");
            WriteClause(w, $"g-{index}-1", "email", "ends_with", [$"@team{index}.example.com"]);
            w.WriteEndArray();
            w.WriteStartArray("servingRules");
            w.WriteStartObject();
            w.WriteString("ruleId", $"sr-{index}-1");
            w.WriteNumber("priority", 1);
            w.WriteStartArray("clauses");
            WriteClause(w, $"g-{index}-1", "email", "ends_with", [$"@team{index}.example.com"]);
            w.WriteEndArray();
            w.WriteEndObject();
            w.WriteEndArray();
            w.WriteNumber("createdAt", 1_700_000_000_000);
            w.WriteNumber("modifiedAt", 1_700_000_000_000 + version);
            w.WriteStartArray("tags");
            w.WriteEndArray();
            w.WriteNumber("version", version);
            w.WriteEndObject();
        }

        return buffer.ToArray();
    }

    private static void WriteClause(Utf8JsonWriter w, string id, string attribute, string op, string[] values)
    {
        w.WriteStartObject();
        w.WriteString("id", id);
        w.WriteString("attribute", attribute);
        w.WriteString("op", op);
        w.WriteStartArray("values");
        foreach (var value in values)
        {
            w.WriteStringValue(value);
        }

        w.WriteEndArray();
        w.WriteBoolean("negate", false);
        w.WriteEndObject();
    }
}

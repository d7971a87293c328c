using System.Text.Json;

namespace FfProxy.Core.Caching;

/// <summary>
/// A one-pass check that a flag's JSON is certainly valid: every property <see cref="Domain.FeatureConfig"/> knows has
/// the JSON type the serializer reads without error, and no list that
/// <see cref="Domain.ConfigValidation.Problem(Domain.FeatureConfig)"/> checks holds a null entry. Building a snapshot
/// used to deserialize every flag only to decide this, and at 1000 environments that was most of a Replica's
/// preload. Anything unusual (a wrong type, a null where a value or entry belongs, a duplicate or escaped or
/// <c>$</c>-prefixed property name, an empty <c>feature</c>) is not judged here: the caller falls back to the
/// serializer, which decides and explains.
/// </summary>
internal static class FeatureConfigScreen
{
    private enum Kind
    {
        String,
        Int32,
        Boolean,
        Object,
        StringList,
        ObjectList,
        Feature,
        Version,
    }

    private sealed record Field(byte[] Name, Kind Kind, Field[]? Shape = null);

    private static readonly Field[] TargetMap = [new("identifier"u8.ToArray(), Kind.String), new("name"u8.ToArray(), Kind.String)];

    private static readonly Field[] WeightedVariation = [new("variation"u8.ToArray(), Kind.String), new("weight"u8.ToArray(), Kind.Int32)];

    private static readonly Field[] Distribution =
        [new("bucketBy"u8.ToArray(), Kind.String), new("variations"u8.ToArray(), Kind.ObjectList, WeightedVariation)];

    private static readonly Field[] Serve = [new("variation"u8.ToArray(), Kind.String), new("distribution"u8.ToArray(), Kind.Object, Distribution)];

    private static readonly Field[] Clause =
    [
        new("id"u8.ToArray(), Kind.String), new("attribute"u8.ToArray(), Kind.String), new("op"u8.ToArray(), Kind.String),
        new("values"u8.ToArray(), Kind.StringList), new("negate"u8.ToArray(), Kind.Boolean),
    ];

    private static readonly Field[] Rule =
    [
        new("ruleId"u8.ToArray(), Kind.String), new("priority"u8.ToArray(), Kind.Int32),
        new("clauses"u8.ToArray(), Kind.ObjectList, Clause), new("serve"u8.ToArray(), Kind.Object, Serve),
    ];

    private static readonly Field[] Variation =
    [
        new("identifier"u8.ToArray(), Kind.String), new("value"u8.ToArray(), Kind.String),
        new("name"u8.ToArray(), Kind.String), new("description"u8.ToArray(), Kind.String),
    ];

    private static readonly Field[] Prerequisite = [new("feature"u8.ToArray(), Kind.String), new("variations"u8.ToArray(), Kind.StringList)];

    private static readonly Field[] VariationMap =
    [
        new("variation"u8.ToArray(), Kind.String), new("targets"u8.ToArray(), Kind.ObjectList, TargetMap),
        new("targetSegments"u8.ToArray(), Kind.StringList),
    ];

    private static readonly Field[] Flag =
    [
        new("feature"u8.ToArray(), Kind.Feature), new("project"u8.ToArray(), Kind.String), new("environment"u8.ToArray(), Kind.String),
        new("kind"u8.ToArray(), Kind.String), new("state"u8.ToArray(), Kind.String),
        new("variations"u8.ToArray(), Kind.ObjectList, Variation), new("defaultServe"u8.ToArray(), Kind.Object, Serve),
        new("offVariation"u8.ToArray(), Kind.String), new("rules"u8.ToArray(), Kind.ObjectList, Rule),
        new("prerequisites"u8.ToArray(), Kind.ObjectList, Prerequisite),
        new("variationToTargetMap"u8.ToArray(), Kind.ObjectList, VariationMap), new("version"u8.ToArray(), Kind.Version),
    ];

    /// <summary>
    /// True when <paramref name="json"/> (one flag object, as the snapshot serves it) is certainly valid, with its
    /// identifier and version (0 when absent or null, as the serializer gives). False means "not decided here".
    /// </summary>
    public static bool TryAccept(ReadOnlySpan<byte> json, out string feature, out long version)
    {
        var found = new Found();
        var reader = new Utf8JsonReader(json);
        try
        {
            if (reader.Read() && reader.TokenType == JsonTokenType.StartObject && ReadObject(ref reader, Flag, ref found)
                && !reader.Read() && !string.IsNullOrEmpty(found.Feature))
            {
                feature = found.Feature;
                version = found.Version;
                return true;
            }
        }
        catch (JsonException)
        {
            // Malformed text: the serializer says so.
        }

        feature = "";
        version = 0;
        return false;
    }

    /// <summary>What the top-level object yields; only the flag's own shape has <see cref="Kind.Feature"/> and <see cref="Kind.Version"/>.</summary>
    private struct Found
    {
        public string? Feature;
        public long Version;
    }

    /// <summary>From the object's StartObject to its EndObject.</summary>
    private static bool ReadObject(ref Utf8JsonReader reader, Field[] shape, ref Found found)
    {
        var seen = 0;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            // Escaped or metadata-like names: how the serializer matches them is its business.
            if (reader.ValueIsEscaped || reader.ValueSpan is [(byte)'$', ..])
            {
                return false;
            }

            var index = IndexOf(ref reader, shape);
            reader.Read();
            if (index < 0)
            {
                reader.Skip();
                continue;
            }

            if ((seen & (1 << index)) != 0)
            {
                return false;
            }

            seen |= 1 << index;
            if (!ReadValue(ref reader, shape[index], ref found))
            {
                return false;
            }
        }

        return reader.TokenType == JsonTokenType.EndObject;
    }

    private static int IndexOf(ref Utf8JsonReader reader, Field[] shape)
    {
        for (var i = 0; i < shape.Length; i++)
        {
            if (reader.ValueSpan.SequenceEqual(shape[i].Name))
            {
                return i;
            }
        }

        return -1;
    }

    private static bool ReadValue(ref Utf8JsonReader reader, Field field, ref Found found)
    {
        var token = reader.TokenType;
        switch (field.Kind)
        {
            case Kind.String:
                return token == JsonTokenType.Null || IsReadableString(ref reader);
            case Kind.Feature:
                if (!IsReadableString(ref reader))
                {
                    return false;
                }

                found.Feature = reader.GetString();
                return true;
            case Kind.Version:
                if (token == JsonTokenType.Null)
                {
                    found.Version = 0;
                    return true;
                }

                return token == JsonTokenType.Number && reader.TryGetInt64(out found.Version);
            case Kind.Int32:
                return token == JsonTokenType.Number && reader.TryGetInt32(out _);
            case Kind.Boolean:
                return token is JsonTokenType.True or JsonTokenType.False;
            case Kind.Object:
                return token == JsonTokenType.Null || (token == JsonTokenType.StartObject && ReadObject(ref reader, field.Shape!, ref found));
            case Kind.StringList:
            case Kind.ObjectList:
                return token == JsonTokenType.Null || (token == JsonTokenType.StartArray && ReadList(ref reader, field, ref found));
            default:
                return false;
        }
    }

    /// <summary>Every entry present and of the list's type: a null entry is a problem the caller has to report.</summary>
    private static bool ReadList(ref Utf8JsonReader reader, Field field, ref Found found)
    {
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            var ok = field.Kind == Kind.StringList
                ? reader.TokenType == JsonTokenType.String && IsReadableString(ref reader)
                : reader.TokenType == JsonTokenType.StartObject && ReadObject(ref reader, field.Shape!, ref found);
            if (!ok)
            {
                return false;
            }
        }

        return reader.TokenType == JsonTokenType.EndArray;
    }

    /// <summary>A string the serializer can turn into a .NET string: escapes are checked by unescaping them.</summary>
    private static bool IsReadableString(ref Utf8JsonReader reader)
    {
        if (reader.TokenType != JsonTokenType.String)
        {
            return false;
        }

        if (!reader.ValueIsEscaped)
        {
            return true;
        }

        try
        {
            reader.GetString();
            return true;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }
}

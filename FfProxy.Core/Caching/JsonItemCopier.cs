using System.Buffers;
using System.Text.Json;

namespace FfProxy.Core.Caching;

/// <summary>
/// Copies one stored JSON object token by token, unescaping and re-escaping strings through the writer, so the
/// output is what parsing the object into a <c>JsonNode</c> and writing it back would give, without building a DOM.
/// Top-level properties can be left out, and a missing or null <c>variationToTargetMap</c> can be written as [].
/// </summary>
internal static class JsonItemCopier
{
    private static readonly byte[] VariationToTargetMap = "variationToTargetMap"u8.ToArray();

    /// <summary>
    /// Copies the object the reader is on (its StartObject) to its EndObject. <paramref name="omit"/> names a
    /// top-level property to leave out (empty: none).
    /// </summary>
    public static void CopyObject(ref Utf8JsonReader reader, Utf8JsonWriter writer, ReadOnlySpan<byte> omit, bool emptyTargetMapForNull)
    {
        var depth = reader.CurrentDepth;
        var sawTargetMap = false;
        writer.WriteStartObject();
        while (reader.Read())
        {
            if (reader.CurrentDepth == depth + 1 && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (!omit.IsEmpty && reader.ValueTextEquals(omit))
                {
                    reader.Read();
                    reader.Skip();
                    continue;
                }

                if (emptyTargetMapForNull && reader.ValueTextEquals(VariationToTargetMap))
                {
                    sawTargetMap = true;
                    WritePropertyName(ref reader, writer);
                    reader.Read();
                    if (reader.TokenType == JsonTokenType.Null)
                    {
                        writer.WriteStartArray();
                        writer.WriteEndArray();
                        continue;
                    }

                    CopyToken(ref reader, writer);
                    continue;
                }

                WritePropertyName(ref reader, writer);
                continue;
            }

            if (reader.CurrentDepth == depth && reader.TokenType == JsonTokenType.EndObject)
            {
                // The .NET SDK fails on a null or missing variationToTargetMap; the Go proxy always sends an array.
                if (emptyTargetMapForNull && !sawTargetMap)
                {
                    writer.WritePropertyName(VariationToTargetMap);
                    writer.WriteStartArray();
                    writer.WriteEndArray();
                }

                writer.WriteEndObject();
                return;
            }

            CopyToken(ref reader, writer);
        }
    }

    private static void CopyToken(ref Utf8JsonReader reader, Utf8JsonWriter writer)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.StartObject:
                writer.WriteStartObject();
                break;
            case JsonTokenType.EndObject:
                writer.WriteEndObject();
                break;
            case JsonTokenType.StartArray:
                writer.WriteStartArray();
                break;
            case JsonTokenType.EndArray:
                writer.WriteEndArray();
                break;
            case JsonTokenType.PropertyName:
                WritePropertyName(ref reader, writer);
                break;
            case JsonTokenType.String:
                WriteString(ref reader, writer);
                break;
            case JsonTokenType.Number:
                // As JsonNode does: the number's own text.
                writer.WriteRawValue(reader.ValueSpan, skipInputValidation: true);
                break;
            case JsonTokenType.True:
                writer.WriteBooleanValue(true);
                break;
            case JsonTokenType.False:
                writer.WriteBooleanValue(false);
                break;
            case JsonTokenType.Null:
                writer.WriteNullValue();
                break;
            default:
                throw new JsonException($"Unexpected JSON token {reader.TokenType}.");
        }
    }

    private static void WritePropertyName(ref Utf8JsonReader reader, Utf8JsonWriter writer) => WriteText(ref reader, writer, propertyName: true);

    private static void WriteString(ref Utf8JsonReader reader, Utf8JsonWriter writer) => WriteText(ref reader, writer, propertyName: false);

    /// <summary>A property name or string value, unescaped and written again through the writer's encoder.</summary>
    private static void WriteText(ref Utf8JsonReader reader, Utf8JsonWriter writer, bool propertyName)
    {
        byte[]? rented = null;
        var text = reader.ValueSpan;
        if (reader.ValueIsEscaped)
        {
            // Unescaped text is never longer than its escaped form.
            rented = ArrayPool<byte>.Shared.Rent(reader.HasValueSequence ? (int)reader.ValueSequence.Length : reader.ValueSpan.Length);
            text = rented.AsSpan(0, reader.CopyString(rented));
        }

        try
        {
            if (propertyName)
            {
                writer.WritePropertyName(text);
            }
            else
            {
                writer.WriteStringValue(text);
            }
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }
}

using System.Globalization;
using System.Text;
using System.Text.Json;
using FfProxy.Core.Domain;

namespace FfProxy.Core.Evaluation;

/// <summary>
/// A target attribute as the string clauses compare (spec/evaluation.md §5.2). <c>""</c> means missing.
/// </summary>
internal static class AttributeValues
{
    public static string Get(Target? target, string? attribute)
    {
        if (target is null || string.IsNullOrEmpty(attribute))
        {
            return "";
        }

        switch (attribute)
        {
            case "identifier":
                return target.Identifier;
            case "name":
                return target.Name ?? "";
        }

        return target.Attributes is not null && target.Attributes.TryGetValue(attribute, out var value) ? ToText(value) : "";
    }

    public static string ToText(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String => value.GetString()!,
        JsonValueKind.True => "true",
        JsonValueKind.False => "false",
        JsonValueKind.Number => FormatNumber(value.GetDouble()),
        JsonValueKind.Object => value.GetRawText(),

        // Go prints arrays as "[a b]" and null as "<nil>"; both are treated as missing (spec [rec]).
        _ => "",
    };

    /// <summary>Go's shortest round-trip formatting without an exponent: 3.0 → "3", 1e21 → "1000000000000000000000".</summary>
    public static string FormatNumber(double value)
    {
        var text = value.ToString("R", CultureInfo.InvariantCulture);
        var e = text.IndexOf('E', StringComparison.Ordinal);
        return e < 0 ? text : ExpandExponent(text, e);
    }

    private static string ExpandExponent(string text, int e)
    {
        var exponent = int.Parse(text.AsSpan(e + 1), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
        var mantissa = text.AsSpan(0, e);
        var negative = mantissa[0] == '-';
        if (negative)
        {
            mantissa = mantissa[1..];
        }

        var dot = mantissa.IndexOf('.');
        var digits = dot < 0 ? mantissa.ToString() : string.Concat(mantissa[..dot], mantissa[(dot + 1)..]);
        var point = (dot < 0 ? mantissa.Length : dot) + exponent;
        var result = new StringBuilder(digits.Length + Math.Abs(exponent) + 3);
        if (negative)
        {
            result.Append('-');
        }

        if (point <= 0)
        {
            result.Append("0.").Append('0', -point).Append(digits);
        }
        else if (point >= digits.Length)
        {
            result.Append(digits).Append('0', point - digits.Length);
        }
        else
        {
            result.Append(digits, 0, point).Append('.').Append(digits, point, digits.Length - point);
        }

        return result.ToString();
    }
}

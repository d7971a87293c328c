using System.Globalization;
using System.Text.Json;

namespace FfProxy.Tests.Evaluation;

/// <summary>
/// How SDKs turn a variation's string value into the caller's type (spec/evaluation.md §3.2). A failed
/// conversion gives the caller's default.
/// </summary>
public static class TypedValues
{
    /// <summary>Lower-cased value equals "true"; anything else (e.g. "yes") is false, not an error.</summary>
    public static bool ToBool(string value) => string.Equals(value, "true", StringComparison.OrdinalIgnoreCase);

    /// <summary>Go ParseFloat on decimal text: "1e3", "-0.5" and "3.25" parse; "abc", "" and " 1" do not.</summary>
    public static bool TryToNumber(string value, out double number) =>
        double.TryParse(value, NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint | NumberStyles.AllowExponent, CultureInfo.InvariantCulture, out number)
        && double.IsFinite(number);

    /// <summary>The value must be a JSON object; arrays, strings and numbers are failures.</summary>
    public static bool TryToJsonObject(string value, out JsonElement json)
    {
        json = default;
        try
        {
            using var document = JsonDocument.Parse(value);
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                return false;
            }

            json = document.RootElement.Clone();
            return true;
        }
        catch (JsonException)
        {
            return false;
        }
    }
}

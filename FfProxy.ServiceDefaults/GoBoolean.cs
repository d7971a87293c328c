namespace Microsoft.Extensions.Hosting;

/// <summary>
/// Go's <c>strconv.ParseBool</c> syntax, which the Go proxy's boolean variables accept: 1, t, T, true, TRUE, True
/// and 0, f, F, false, FALSE, False. Every FfProxy role parses its boolean variables with it.
/// </summary>
public static class GoBoolean
{
    public static bool TryParse(string value, out bool result)
    {
        switch (value.Trim())
        {
            case "1" or "t" or "T" or "true" or "TRUE" or "True":
                result = true;
                return true;
            case "0" or "f" or "F" or "false" or "FALSE" or "False":
                result = false;
                return true;
            default:
                result = false;
                return false;
        }
    }

    /// <summary>The problem line for a value that is not a boolean (the same words in every role).</summary>
    public static string Problem(string name, string value) => $"{name}: '{value}' is not a boolean; use true or false.";
}

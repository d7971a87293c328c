namespace Microsoft.Extensions.Hosting;

/// <summary>The rule for an <c>X-Request-Id</c> a client sent, shared by the SDK-serving roles and the Gateway.</summary>
public static class RequestIds
{
    public const string Header = "X-Request-Id";

    /// <summary>
    /// 1–200 visible ASCII characters other than the separators that could end or split a header value; anything
    /// else (control characters, DEL, non-ASCII bytes) would make an echoed response header invalid.
    /// </summary>
    public static bool IsSafe(string value)
    {
        if (value.Length is 0 or > 200)
        {
            return false;
        }

        foreach (var c in value)
        {
            if (c is <= ' ' or >= '\x7f' or '"' or ',' or ';' or '\\')
            {
                return false;
            }
        }

        return true;
    }
}

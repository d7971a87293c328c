using System.Net.Http;

namespace FfProxy.Core.Sdk;

/// <summary>
/// Between the Gateway's stream relay and the SDK stream route (internal, not part of the SDK API): a
/// <c>GET /stream</c> carrying <see cref="Header"/>: <see cref="Asked"/> is checked like any stream request (token,
/// <c>API-Key</c>, streaming available) and answered with the stream's status and headers, this header set to
/// <see cref="Answer"/>, and an empty body, instead of a stream. The relay joins such an SDK to the stream it already
/// holds for that upstream and key. What a client learns from it is what opening a stream tells it.
/// </summary>
public static class SdkStreamCheck
{
    public const string Header = "X-FfProxy-Stream-Check";
    public const string Asked = "1";
    public const string Answer = "checked";

    /// <summary>True when the upstream answered a check (an upstream that does not know the header streams instead).</summary>
    public static bool Answered(HttpResponseMessage response) =>
        response.Headers.TryGetValues(Header, out var values) && values.Contains(Answer, StringComparer.Ordinal);
}

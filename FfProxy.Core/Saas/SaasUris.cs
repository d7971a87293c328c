namespace FfProxy.Core.Saas;

/// <summary>Request URIs under a configured SaaS service URL (CLIENT_SERVICE, METRIC_SERVICE), with or without a trailing slash.</summary>
public static class SaasUris
{
    /// <param name="pathAndQuery">Starts with <c>/</c>; escaped by the caller.</param>
    public static Uri Under(Uri service, string pathAndQuery) => new(service.OriginalString.TrimEnd('/') + pathAndQuery);
}

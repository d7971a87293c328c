using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Http.Resilience;
using Polly;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// The two resilience pipelines FfProxy puts on its outbound HTTP clients. Not a default for every client:
/// the SaaS account stream and SDK-facing streams are meant to stay open, and a total-request timeout would cut them.
/// </summary>
public static class HttpResilience
{
    /// <summary>
    /// For requests that may be repeated (reads, authentication): a timeout per attempt and up to three retries
    /// with exponential backoff and jitter, on transient failures only (5xx, 408, 429, network errors), never on other 4xx.
    /// </summary>
    public static IHttpClientBuilder AddRetryingRequests(this IHttpClientBuilder builder, string name, Func<IServiceProvider, TimeSpan> attemptTimeout)
    {
        builder.AddResilienceHandler(name, (pipeline, context) =>
        {
            pipeline.AddRetry(new HttpRetryStrategyOptions
            {
                MaxRetryAttempts = 3,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = TimeSpan.FromMilliseconds(500),
            });
            pipeline.AddTimeout(attemptTimeout(context.ServiceProvider));
        });
        return builder;
    }

    /// <summary>For posts that must not be repeated (a retried metrics batch could be counted twice): a timeout only.</summary>
    public static IHttpClientBuilder AddSingleAttempt(this IHttpClientBuilder builder, string name, Func<IServiceProvider, TimeSpan> timeout)
    {
        builder.AddResilienceHandler(name, (pipeline, context) => pipeline.AddTimeout(timeout(context.ServiceProvider)));
        return builder;
    }
}

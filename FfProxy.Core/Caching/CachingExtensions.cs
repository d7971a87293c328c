using FfProxy.Core.Configuration;
using FfProxy.Core.Messaging;
using FfProxy.Core.Sdk;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;

namespace FfProxy.Core.Caching;

public static class CachingExtensions
{
    /// <summary>
    /// The shared store and this process's snapshots. Process memory when REDIS_ADDRESS is empty
    /// (single node); Redis otherwise.
    /// </summary>
    public static IHostApplicationBuilder AddConfigStore(this IHostApplicationBuilder builder)
    {
        var services = builder.Services;
        services.TryAddSingleton<IKeyValueStore, InMemoryKeyValueStore>();
        services.TryAddSingleton<ConfigRepository>();
        services.TryAddSingleton<SnapshotBuilder>();
        services.TryAddSingleton<SnapshotCache>();
        services.TryAddSingleton<ConfigUpdater>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IChangeSink, HubChangeSink>());
        services.AddHostedService<CacheHealthMonitor>();
        return builder;
    }
}

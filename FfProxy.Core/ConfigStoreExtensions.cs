using System.Diagnostics.Metrics;
using FfProxy.Core.Caching;
using FfProxy.Core.Caching.Redis;
using FfProxy.Core.Messaging.Redis;
using FfProxy.Core.Configuration;
using FfProxy.Core.Messaging;
using FfProxy.Core.Sdk;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using StackExchange.Redis;

namespace FfProxy.Core;

public static class ConfigStoreExtensions
{
    /// <summary>Name of the Redis client registration (Aspire's connection name).</summary>
    public const string RedisConnectionName = "redis";

    /// <summary>
    /// The shared store, its streams and this process's snapshots: process memory when REDIS_ADDRESS is empty
    /// (single node), Redis otherwise, through Aspire's client (health check, tracing, metrics).
    /// </summary>
    public static IHostApplicationBuilder AddConfigStore(this IHostApplicationBuilder builder, ProxyOptions options)
    {
        var services = builder.Services;
        if (options.InMemoryStore)
        {
            services.TryAddSingleton<InMemoryKeyValueStore>();
            services.TryAddSingleton<IKeyValueStore>(sp => Metered(sp, sp.GetRequiredService<InMemoryKeyValueStore>()));
            services.TryAddSingleton<IMessageStreams, InMemoryMessageStreams>();
        }
        else
        {
            var redis = RedisConnection.Parse(options.Redis);
            // Without a trace exporter the client's tracing would still profile every command issued under a request's
            // Activity and keep that profiling session until the request ends: for an SDK stream, its whole life.
            var traced = ServiceDefaultsExtensions.ExportsTraces(builder.Configuration);
            builder.AddRedisClient(RedisConnectionName,
                settings =>
                {
                    settings.ConnectionString = redis.ToString(includePassword: true);
                    settings.DisableTracing = !traced;
                },
                configureOptions: configuration => RedisConnection.Apply(configuration, options.Redis));
            services.TryAddSingleton<RedisKeyValueStore>();
            services.TryAddSingleton<IKeyValueStore>(sp => Metered(sp, sp.GetRequiredService<RedisKeyValueStore>()));
            services.TryAddSingleton(_ => new StreamReadConnections(RedisConnection.Parse(options.Redis)));
            services.TryAddSingleton<IMessageStreams, RedisMessageStreams>();
        }

        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<ConfigRepository>();
        services.TryAddSingleton<SnapshotBuilder>();
        services.TryAddSingleton<SnapshotCache>();
        services.TryAddSingleton<StoreReconnections>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IChangeSink, HubChangeSink>());
        services.AddHostedService<CacheHealthMonitor>();
        return builder;

        static IKeyValueStore Metered(IServiceProvider services, IKeyValueStore store) =>
            new MeteredKeyValueStore(store, services.GetRequiredService<IMeterFactory>());
    }
}

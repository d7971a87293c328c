using FfProxy.Core.Configuration;
using FfProxy.Core.Sdk;
using FfProxy.Replica.Replication;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace FfProxy.Replica;

/// <summary>Registration of what makes this process a Read Replica.</summary>
internal static class ReplicaExtensions
{
    /// <summary>The documented variables, as a Replica: READ_REPLICA is implied, so REDIS_ADDRESS is required.</summary>
    public static ProxyOptions AddReplicaOptions(this WebApplicationBuilder builder)
    {
        builder.Configuration.AddInMemoryCollection([new("READ_REPLICA", "true")]);

        // Replace, not TryAdd: AddSdkApi's default (Primary) may already be registered, whichever runs first.
        builder.Services.Replace(ServiceDescriptor.Singleton(ProxyRole.Replica));
        return builder.AddProxyOptions();
    }

    /// <summary>
    /// Follows the Primary through Redis only (spec §3.6, §3.9, §4.3): its SaaS stream state, its change events,
    /// and SDK metrics handed to it on <c>stream:sdk_metrics</c>.
    /// </summary>
    public static WebApplicationBuilder AddReplication(this WebApplicationBuilder builder, ProxyOptions options)
    {
        builder.Services.AddOptions<ReplicationTimings>().Bind(builder.Configuration.GetSection(ReplicationTimings.Section));
        builder.Services.TryAddSingleton<MetricsStreamSink>();
        builder.Services.Replace(ServiceDescriptor.Singleton<ISdkMetricsSink>(sp => sp.GetRequiredService<MetricsStreamSink>()));
        builder.Services.AddHostedService<MetricsBufferDrain>();
        builder.Services.AddSingleton<SnapshotReconciler>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<SnapshotReconciler>());
        builder.Services.AddHostedService<PrimaryFollower>();
        return builder;
    }
}

/// <summary>Names this assembly's entry point for hosts in tests (its <c>Program</c> stays internal).</summary>
public sealed class ReplicaMarker;

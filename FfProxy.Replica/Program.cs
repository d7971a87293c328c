using FfProxy.Core;
using FfProxy.Core.Caching;
using FfProxy.Core.Configuration;
using FfProxy.Core.Saas;
using FfProxy.Core.Sdk;
using FfProxy.Replica;

try
{
    var builder = WebApplication.CreateSlimBuilder(args);
    builder.AddServiceDefaults(frameworkRequestMetrics: false);  // OpenTelemetry, Prometheus (spec §7 series), liveness, resilience
    var options = builder.AddReplicaOptions();     // the documented variables; READ_REPLICA is implied
    builder.AddListeners(options.Listener());     // PORT, TLS, PROMETHEUS_PORT
    builder.AddConfigStore(options);               // Redis (what the Primary writes), snapshots
    builder.AddSdkApi();                           // tokens, SSE hub, evaluation, metrics intake
    builder.AddReplication(options);               // follow the Primary: state, events, metrics to Redis
    builder.AddTargetForwarding(options);          // FORWARD_TARGETS: targets seen at /client/auth to SaaS

    var app = builder.Build();
    app.MapDefaultEndpoints(options.PrometheusPort != options.Port ? options.PrometheusPort : null);
    app.MapSdkApi();
    app.Run();
    return 0;
}
catch (ProxyConfigurationException ex)
{
    Console.Error.WriteLine(ex.Message);
    return 2;
}

using FfProxy.Core;
using FfProxy.Core.Caching;
using FfProxy.Core.Configuration;
using FfProxy.Core.Saas;
using FfProxy.Core.Sdk;
using FfProxy.Primary;
using FfProxy.Primary.Offline;

try
{
    var builder = WebApplication.CreateSlimBuilder(args);
    builder.AddServiceDefaults(frameworkRequestMetrics: false);  // OpenTelemetry, Prometheus (spec §7 series), liveness, resilience
    var options = builder.AddProxyOptions();       // the documented environment variables, validated
    if (options.GenerateOfflineConfig)
    {
        return await OfflineExport.RunAsync(builder);  // sync once, write CONFIG_DIR, exit
    }

    builder.AddListeners(options.Listener());     // PORT, TLS, PROMETHEUS_PORT
    builder.AddConfigStore(options);             // memory (single node) or Redis, snapshots
    builder.AddSdkApi();                           // tokens, SSE hub, evaluation, metrics intake
    builder.AddConfigSource(options);              // the offline directory or Harness SaaS
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

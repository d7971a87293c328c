using FfProxy.Gateway;

try
{
    var builder = WebApplication.CreateSlimBuilder(args);
    builder.AddServiceDefaults(frameworkRequestMetrics: false);  // OpenTelemetry, Prometheus, liveness, service discovery
    builder.QuietPerRequestLogs("Microsoft.AspNetCore", "Yarp");   // no log line per forwarded request by default
    var options = GatewayOptions.Read(builder.Configuration);
    builder.AddListeners(options.Listener);          // PORT (7000), TLS_ENABLED/TLS_CERT/TLS_KEY
    builder.AddSdkRouting(options);                  // YARP: SDK routes → upstreams, round-robin, health checks

    var app = builder.Build();
    app.UseForwardableRequests();                   // 400 for what the forwarder could not send, not 502
    app.MapDefaultEndpoints();
    app.MapGatewayHealth();
    app.MapSdkProxy();
    app.Run();
    return 0;
}
catch (GatewayConfigurationException ex)
{
    Console.Error.WriteLine(ex.Message);
    return 2;
}

using FfProxy.Gateway;

try
{
    var builder = WebApplication.CreateSlimBuilder(args);
    builder.AddServiceDefaults();                    // OpenTelemetry, Prometheus, liveness, service discovery
    var options = GatewayOptions.Read(builder.Configuration);
    builder.AddListeners(options.Listener);          // PORT (7000), TLS_ENABLED/TLS_CERT/TLS_KEY
    builder.AddSdkRouting(options);                  // YARP: SDK routes → upstreams, round-robin, health checks

    var app = builder.Build();
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

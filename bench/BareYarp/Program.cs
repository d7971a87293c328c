// "Bare YARP": YARP's reverse proxy and nothing else (no telemetry, no logging, no middleware of ours, one
// destination, no health checks), so bench/sdk-ratios.sh can show what forwarding alone costs on these cores next to
// the Gateway. Like the Gateway it sends an SSE stream's headers at once, so it can carry SDK streams.
//
//   UPSTREAM=http://127.0.0.1:<port> PORT=<port> dotnet BareYarp.dll
using Yarp.ReverseProxy.Configuration;
using Yarp.ReverseProxy.Forwarder;
using Yarp.ReverseProxy.Transforms;

var builder = WebApplication.CreateSlimBuilder(args);
builder.Logging.ClearProviders();
var port = Environment.GetEnvironmentVariable("PORT") ?? "17120";
builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
var upstream = Environment.GetEnvironmentVariable("UPSTREAM")
    ?? throw new InvalidOperationException("UPSTREAM must name the address to forward to");

builder.Services.AddReverseProxy()
    .LoadFromMemory(
        [new RouteConfig { RouteId = "all", ClusterId = "upstream", Match = new RouteMatch { Path = "/{**path}" } }],
        [new ClusterConfig
        {
            ClusterId = "upstream",
            Destinations = new Dictionary<string, DestinationConfig> { ["upstream"] = new() { Address = upstream } },
            HttpRequest = new ForwarderRequestConfig
            {
                ActivityTimeout = TimeSpan.FromMinutes(10),
                Version = System.Net.HttpVersion.Version11,
                VersionPolicy = HttpVersionPolicy.RequestVersionOrLower,
            },
        }])
    .AddTransforms(transforms => transforms.AddResponseTransform(static context =>
        context.HttpContext.Request.Path == "/stream" && context.ProxyResponse?.IsSuccessStatusCode == true
            ? new ValueTask(context.HttpContext.Response.Body.FlushAsync())
            : ValueTask.CompletedTask));

var app = builder.Build();
app.MapReverseProxy();
app.Run();

using Aspire.Hosting;
using Microsoft.Extensions.Configuration;

// FfProxy's topology: Redis, one Primary (SaaS or the offline directory → Redis), N Read Replicas (Redis → SDKs)
// and the YARP Gateway, the one public door on port 7000. Switches go after `--`: --Replicas=3,
// --Parameters:proxy-key=<key> (online), --ClientService=<url> / --MetricService=<url> (another SaaS),
// --RedisMode=container|executable|none, --ConfigDir=<offline directory>, and extra variables per role:
// --PrimaryEnvironment:METRIC_POST_DURATION=10, --ReplicaEnvironment:LOG_LEVEL=DEBUG.
var builder = DistributedApplication.CreateBuilder(args);
var config = builder.Configuration;
var publishing = builder.ExecutionContext.IsPublishMode;

var replicaCount = config.GetValue("Replicas", 2);
var online = publishing || !string.IsNullOrEmpty(config["Parameters:proxy-key"]);
var redisMode = publishing ? "container" : config["RedisMode"] ?? "auto";
var redisServer = LocalRedisExtensions.FindOnPath("redis-server");
if (redisMode == "auto")
{
    redisMode = LocalRedisExtensions.ContainerRuntimeAvailable() ? "container" : redisServer is not null ? "executable" : "none";
}

// The SDK token secret is shared by every instance; run mode makes one up when none is configured.
var authSecret = publishing || !string.IsNullOrEmpty(config["Parameters:auth-secret"])
    ? builder.AddParameter("auth-secret", secret: true)
    : builder.AddParameter("auth-secret", Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32)), secret: true);

IResourceBuilder<IResourceWithConnectionString>? redis = redisMode switch
{
    "container" => builder.AddRedis("redis"),
    "executable" => builder.AddLocalRedis("redis", redisServer ?? "redis-server"),
    _ => null,
};

var primary = builder.AddProject<Projects.FfProxy_Primary>("primary", launchProfileName: null)
    .WithGen0Budget()
    .WithHttpEndpoint(name: "http")
    .WithEnvironment("AUTH_SECRET", authSecret)
    .WithHttpHealthCheck("/health");
if (online)
{
    primary.WithEnvironment("PROXY_KEY", builder.AddParameter("proxy-key", secret: true));
    foreach (var (setting, variable) in (ReadOnlySpan<(string, string)>)[("ClientService", "CLIENT_SERVICE"), ("MetricService", "METRIC_SERVICE")])
    {
        if (config[setting] is { Length: > 0 } url)
        {
            primary.WithEnvironment(variable, url);
        }
    }
}
else
{
    var sampleConfig = Path.GetFullPath(Path.Combine(builder.AppHostDirectory, "..", "config", "sample"));
    primary.WithEnvironment("OFFLINE", "true").WithEnvironment("CONFIG_DIR", config["ConfigDir"] ?? sampleConfig);
}

PassThrough(primary, "PrimaryEnvironment");

var gateway = builder.AddProject<Projects.FfProxy_Gateway>("gateway", launchProfileName: null)
    .WithGen0Budget(RuntimeTuningExtensions.GatewayGen0Budget)
    .WithHttpEndpoint(port: config.GetValue("GatewayPort", 7000), name: "http")
    .WithExternalHttpEndpoints()
    .WithHttpHealthCheck("/health");

if (redis is null)
{
    // Single node: the Primary serves SDKs itself, from memory.
    gateway.WithEnvironment("services__replicas__http__0", primary.GetEndpoint("http")).WaitFor(primary);
    Console.WriteLine("FfProxy: no container runtime and no redis-server on PATH, so this is the single-node topology " +
        "(the Primary serves SDKs from memory). For Read Replicas install redis-server (apt-get install redis-server) or start Docker.");
}
else
{
    primary.WithEnvironment("REDIS_ADDRESS", redis.Resource.ConnectionStringExpression).WaitFor(redis);

    // Publishing describes one Replica service that the platform scales (Container Apps, a Deployment with an
    // autoscaler); running locally starts named instances, so the Gateway balances each request across them
    // (a replica set would be balanced per connection by DCP's proxy, which keep-alive defeats).
    var instances = publishing ? [""] : Enumerable.Range(0, replicaCount).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray();
    for (var i = 0; i < instances.Length; i++)
    {
        var replica = builder.AddProject<Projects.FfProxy_Replica>("replica" + instances[i], launchProfileName: null)
            .WithGen0Budget()
            // Not behind DCP's proxy: it kept accepting connections for a Replica killed by hand and held them, so a
            // request the Gateway had sent there waited out the 10-minute idle timeout (504) instead of failing over.
            .WithHttpEndpoint(name: "http", isProxied: false)
            .WithEnvironment("REDIS_ADDRESS", redis.Resource.ConnectionStringExpression)
            .WithEnvironment("AUTH_SECRET", authSecret)
            .WithHttpHealthCheck("/health")
            .WaitFor(redis);
        if (online && config["ClientService"] is { Length: > 0 } clientService)
        {
            // Replicas call SaaS only to forward targets (--ReplicaEnvironment:FORWARD_TARGETS=true).
            replica.WithEnvironment("CLIENT_SERVICE", clientService);
        }

        PassThrough(replica, "ReplicaEnvironment");
        var variable = "services__replicas__http__" + i.ToString(System.Globalization.CultureInfo.InvariantCulture);
        gateway.WithEnvironment(variable, replica.GetEndpoint("http")).WaitFor(replica);
    }

    if (instances.Length == 0)
    {
        gateway.WithEnvironment("services__replicas__http__0", primary.GetEndpoint("http")).WaitFor(primary);
    }
}

builder.Build().Run();

void PassThrough<T>(IResourceBuilder<T> resource, string section)
    where T : IResourceWithEnvironment
{
    foreach (var setting in config.GetSection(section).GetChildren())
    {
        if (setting.Value is { } value)
        {
            resource.WithEnvironment(setting.Key, value);
        }
    }
}

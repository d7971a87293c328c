using FfProxy.Bench.ScaleProbe;
using StackExchange.Redis;

// Watches Redis and a Replica during bench/account-scale.sh. Usage:
//   ScaleProbe <tokens|storm|added|outage> --saas URL --redis HOST:PORT --replica URL --primary URL --tokens FILE
//              [--count N] [--seconds S] [--timeout SECONDS] [--settle SECONDS]
var command = args.Length > 0 ? args[0] : "";
var options = new Dictionary<string, string>(StringComparer.Ordinal);
for (var i = 1; i + 1 < args.Length; i += 2)
{
    options[args[i].TrimStart('-')] = args[i + 1];
}

string Option(string name) => options.TryGetValue(name, out var value) ? value
    : throw new ArgumentException($"--{name} is required");
double Number(string name, double fallback) =>
    options.TryGetValue(name, out var value) ? double.Parse(value, System.Globalization.CultureInfo.InvariantCulture) : fallback;

using var redisConnection = await ConnectionMultiplexer.ConnectAsync(Option("redis") + ",name=bench-probe");
using var handler = new SocketsHttpHandler { MaxConnectionsPerServer = 8, PooledConnectionLifetime = TimeSpan.FromMinutes(10) };
HttpClient Client(string url) => new(handler, disposeHandler: false) { BaseAddress = new Uri(url.TrimEnd('/') + "/"), Timeout = TimeSpan.FromSeconds(30) };
using var saasHttp = Client(Option("saas"));
using var replicaHttp = Client(Option("replica"));
using var primaryHttp = Client(options.GetValueOrDefault("primary", Option("replica")));

var scenarios = new Scenarios(
    new SaasControl(saasHttp),
    new RedisView(redisConnection.GetDatabase()),
    new ReplicaView(replicaHttp, Option("tokens")),
    primaryHttp,
    TimeSpan.FromSeconds(Number("timeout", 600)),
    Console.Out);

switch (command)
{
    case "tokens":
        await scenarios.TokensAsync();
        break;
    case "storm":
        await scenarios.StormAsync((int)Number("count", 1000), Number("seconds", 2));
        break;
    case "added":
        await scenarios.AddedAsync((int)Number("count", 50));
        break;
    case "outage":
        await scenarios.OutageAsync((int)Number("count", 200), TimeSpan.FromSeconds(Number("settle", 3)));
        break;
    default:
        Console.Error.WriteLine("usage: ScaleProbe <tokens|storm|added|outage> --saas URL --redis HOST:PORT --replica URL --primary URL --tokens FILE [--count N] [--seconds S] [--timeout S] [--settle S]");
        return 2;
}

return 0;

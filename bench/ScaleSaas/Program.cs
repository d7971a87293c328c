using FfProxy.Bench.ScaleSaas;

// A fake Harness SaaS for an account of ENVS environments x FLAGS flags x GROUPS target groups, 2 SDK keys each.
// Settings (environment variables): PORT, PROXY_KEY, ENVS, FLAGS, TARGET_GROUPS (not GROUPS: bash owns that name), HEARTBEAT_SECONDS.
var port = Setting("PORT", 0);
var proxyKey = Environment.GetEnvironmentVariable("PROXY_KEY") is { Length: > 0 } key ? key : "scale-proxy-key";
var account = new Account(Setting("FLAGS", 50), Setting("TARGET_GROUPS", 10));
account.AddEnvironments(Setting("ENVS", 1000));

var builder = WebApplication.CreateSlimBuilder(args);
builder.WebHost.UseUrls($"http://127.0.0.1:{port}");

// A proxy token's claim lists every environment of the key: at 1000 environments the bearer header alone passes
// Kestrel's default 32 KB limit on all request headers (431), which Harness SaaS does not impose.
builder.WebHost.ConfigureKestrel(kestrel => kestrel.Limits.MaxRequestHeadersTotalSize = 1 << 20);
builder.Logging.ClearProviders();
builder.Services.ConfigureHttpJsonOptions(o => o.SerializerOptions.TypeInfoResolverChain.Insert(0, ScaleJsonContext.Default));
var app = builder.Build();

var stats = new RouteStats(TimeProvider.System);
var stream = new EventStreams(TimeSpan.FromSeconds(Setting("HEARTBEAT_SECONDS", 5)), stats);
new SaasApi(account, new ProxyTokens("1", "scale-account"), stream, stats, proxyKey).Map(app);
new ControlApi(account, stream, stats, TimeProvider.System).Map(app);

app.Lifetime.ApplicationStarted.Register(() => Console.WriteLine(
    $"scale-saas: {account.Count} environments x {account.Flags} flags x {account.Groups} groups on {string.Join(' ', app.Urls)}"));
app.Run();

static int Setting(string name, int fallback) =>
    int.TryParse(Environment.GetEnvironmentVariable(name), out var value) && value >= 0 ? value : fallback;

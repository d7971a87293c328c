using System.Text.Json;
using FfProxy.Tests.Fixtures;

namespace FfProxy.Tests.Deployment;

/// <summary>
/// The deployment description comes from the AppHost: its manifest (what azd deploys) has the intended topology,
/// and deploy/kubernetes is exactly what the generator makes of it, valid against the Kubernetes schemas.
/// </summary>
public sealed class DeploymentArtifactTests : IAsyncLifetime, IDisposable
{
    private static readonly string Tools = Path.Combine(RepositoryPaths.Root, "deploy", "tools");
    private readonly TempDirectory _work = new();
    private JsonElement _resources;

    private string ManifestPath => Path.Combine(_work.Path, "aspire-manifest.json");

    public async Task InitializeAsync()
    {
        var (exitCode, output) = await Commands.RunAsync("dotnet",
            ["run", "--project", Path.Combine(RepositoryPaths.Root, "FfProxy.AppHost"), "--no-build", "--", "--publisher", "manifest", "--output-path", ManifestPath]);
        Assert.True(exitCode == 0, output);
        _resources = JsonDocument.Parse(await File.ReadAllTextAsync(ManifestPath)).RootElement.GetProperty("resources").Clone();
    }

    public Task DisposeAsync() => Task.CompletedTask;

    public void Dispose() => _work.Dispose();

    [Fact]
    public void The_manifest_describes_redis_one_primary_the_replicas_and_the_gateway_as_the_only_public_endpoint()
    {
        Assert.Equal("container.v0", Type("redis"));
        Assert.Contains("redis", _resources.GetProperty("redis").GetProperty("image").GetString(), StringComparison.Ordinal);
        Assert.Equal("project.v0", Type("primary"));
        Assert.False(_resources.GetProperty("primary").TryGetProperty("replicas", out _), "the Primary runs as exactly one instance");
        Assert.Equal("project.v0", Type("replica"));
        Assert.Equal("project.v0", Type("gateway"));

        var external = _resources.EnumerateObject()
            .Where(r => r.Value.TryGetProperty("bindings", out var bindings)
                && bindings.EnumerateObject().Any(b => b.Value.TryGetProperty("external", out var e) && e.GetBoolean()))
            .Select(r => r.Name).ToList();
        Assert.Equal(["gateway"], external);
        Assert.Equal(7000, _resources.GetProperty("gateway").GetProperty("bindings").GetProperty("http").GetProperty("port").GetInt32());

        foreach (var (parameter, variable, consumers) in new[] { ("proxy-key", "PROXY_KEY", new[] { "primary" }), ("auth-secret", "AUTH_SECRET", new[] { "primary", "replica" }) })
        {
            Assert.Equal("parameter.v0", Type(parameter));
            Assert.True(_resources.GetProperty(parameter).GetProperty("inputs").GetProperty("value").GetProperty("secret").GetBoolean(), parameter);
            foreach (var consumer in consumers)
            {
                Assert.Equal($"{{{parameter}.value}}", _resources.GetProperty(consumer).GetProperty("env").GetProperty(variable).GetString());
            }
        }

        Assert.Contains("{redis.", _resources.GetProperty("replica").GetProperty("env").GetProperty("REDIS_ADDRESS").GetString(), StringComparison.Ordinal);
        Assert.Equal("{replica.bindings.http.url}", _resources.GetProperty("gateway").GetProperty("env").GetProperty("services__replicas__http__0").GetString());

        // The GC's first-generation cap travels with every service (only an environment variable sets it).
        foreach (var (service, budget) in new[] { ("primary", "0x2000000"), ("replica", "0x2000000"), ("gateway", "0x800000") })
        {
            Assert.Equal(budget, _resources.GetProperty(service).GetProperty("env").GetProperty("DOTNET_GCgen0size").GetString());
        }
    }

    [Fact]
    public async Task Kubernetes_manifests_regenerate_identically_and_validate_against_the_schemas()
    {
        await Commands.NpmCiAsync(Tools, "kubernetes-models");
        var generated = Path.Combine(_work.Path, "kubernetes");

        var (exitCode, output) = await Commands.RunAsync("node", [Path.Combine(Tools, "generate-kubernetes.mjs"), "--manifest", ManifestPath, "--out", generated]);
        Assert.True(exitCode == 0, output);

        var committed = Path.Combine(RepositoryPaths.Root, "deploy", "kubernetes");
        var names = Directory.GetFiles(committed, "*.yaml").Select(Path.GetFileName).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(names, Directory.GetFiles(generated, "*.yaml").Select(Path.GetFileName).Order(StringComparer.Ordinal).ToList());
        foreach (var name in names)
        {
            Assert.True(await File.ReadAllTextAsync(Path.Combine(committed, name!)) == await File.ReadAllTextAsync(Path.Combine(generated, name!)),
                $"deploy/kubernetes/{name} drifted from the AppHost: run `node deploy/tools/generate-kubernetes.mjs` and commit");
        }

        (exitCode, output) = await Commands.RunAsync("node", [Path.Combine(Tools, "validate-kubernetes.mjs"), generated]);
        Assert.True(exitCode == 0, output);
        Assert.Matches(@"\d+ objects valid", output);

        var all = string.Join("\n", names.Select(n => File.ReadAllText(Path.Combine(committed, n!))));
        Assert.Contains("kind: StatefulSet", all, StringComparison.Ordinal);
        Assert.Contains("kind: HorizontalPodAutoscaler", all, StringComparison.Ordinal);
        Assert.Contains("kind: PodDisruptionBudget", all, StringComparison.Ordinal);
        Assert.Contains("type: Recreate", await File.ReadAllTextAsync(Path.Combine(committed, "20-primary.yaml")), StringComparison.Ordinal);
        Assert.Contains("type: LoadBalancer", await File.ReadAllTextAsync(Path.Combine(committed, "20-gateway.yaml")), StringComparison.Ordinal);

        // The processes that hold SDK streams scale on memory as well as CPU (idle streams cost memory only).
        foreach (var holder in (string[])["20-replica.yaml", "20-gateway.yaml"])
        {
            var text = await File.ReadAllTextAsync(Path.Combine(committed, holder));
            Assert.Contains("kind: HorizontalPodAutoscaler", text, StringComparison.Ordinal);
            Assert.Contains("name: memory", text, StringComparison.Ordinal);
            Assert.Contains("kind: PodDisruptionBudget", text, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task The_validator_rejects_an_invalid_object()
    {
        await Commands.NpmCiAsync(Tools, "kubernetes-models");
        var broken = Path.Combine(_work.Path, "broken");
        Directory.CreateDirectory(broken);
        await File.WriteAllTextAsync(Path.Combine(broken, "bad.yaml"), """
            apiVersion: apps/v1
            kind: Deployment
            metadata: { name: bad }
            spec: { replicas: "two", selector: { matchLabels: { a: b } }, template: { metadata: { labels: { a: b } }, spec: { containers: [] } } }
            """);

        var (exitCode, output) = await Commands.RunAsync("node", [Path.Combine(Tools, "validate-kubernetes.mjs"), broken]);

        Assert.NotEqual(0, exitCode);
        Assert.Contains("replicas", output, StringComparison.Ordinal);
    }

    private string? Type(string resource) => _resources.GetProperty(resource).GetProperty("type").GetString();
}

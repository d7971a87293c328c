using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using FfProxy.Core.Domain;

namespace FfProxy.Benchmarks;

/// <summary>
/// The busy environment bench/sdk-ratios.sh measures: 200 flags × 20 groups × 100 targets written by
/// bench/generate-config.py (deterministic), served by a <see cref="SampleProxy"/> authenticated as its 8th target.
/// </summary>
public static class GeneratedEnvironment
{
    public const string Environment = "0b6f7c1e-2d3a-4b5c-8d9e-af0b1c2d3e4f";
    public const string SdkKey = "6a1d2c3b-4e5f-4a6b-8c7d-9e0f1a2b3c4d";

    public static async Task<(SampleProxy Proxy, Target Target, string Directory)> StartAsync()
    {
        var directory = Path.Combine(Path.GetTempPath(), "ffproxy-bench-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        var script = Path.Combine(SampleProxy.RepositoryRoot(), "bench", "generate-config.py");
        using (var python = Process.Start("python3", [script, directory, Environment, SdkKey, "200", "20", "100"]))
        {
            await python.WaitForExitAsync();
            if (python.ExitCode != 0)
            {
                throw new InvalidOperationException("bench/generate-config.py failed");
            }
        }

        var targets = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(directory, $"env-{Environment}", "targets.json")))!.AsArray();
        var target = targets[7]!.AsObject();
        var auth = new JsonObject
        {
            ["apiKey"] = SdkKey,
            ["target"] = new JsonObject
            {
                ["identifier"] = target["identifier"]!.DeepClone(),
                ["name"] = target["name"]!.DeepClone(),
                ["attributes"] = target["attributes"]!.DeepClone(),
            },
        };
        var proxy = await SampleProxy.StartAsync(directory, auth.ToJsonString());
        return (proxy, auth["target"].Deserialize(ProxyJsonContext.Default.Target)!, directory);
    }
}

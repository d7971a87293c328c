using System.Diagnostics;

namespace FfProxy.Tests.Fixtures;

/// <summary>Runs a program to completion, as an operator would from a shell, and returns its exit code and output.</summary>
public static class Commands
{
    public static async Task<(int ExitCode, string Output)> RunAsync(
        string program, IEnumerable<string> arguments, string? workingDirectory = null, IDictionary<string, string>? environment = null, TimeSpan? timeout = null)
    {
        var start = new ProcessStartInfo(program, arguments)
        {
            WorkingDirectory = workingDirectory ?? RepositoryPaths.Root,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[key] = value;
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cancel = new CancellationTokenSource(timeout ?? TimeSpan.FromMinutes(2));
        try
        {
            await process.WaitForExitAsync(cancel.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{program} {string.Join(' ', arguments)} did not finish in time");
        }

        return (process.ExitCode, await stdout + await stderr);
    }

    /// <summary>Installs the locked npm packages of <paramref name="directory"/> once per test run.</summary>
    public static async Task NpmCiAsync(string directory, string probe)
    {
        await NpmGate.WaitAsync();
        try
        {
            if (Directory.Exists(Path.Combine(directory, "node_modules", probe)))
            {
                return;
            }

            var (exitCode, output) = await RunAsync("npm", ["ci", "--no-audit", "--no-fund"], directory);
            Assert.True(exitCode == 0, "npm ci failed: " + output);
        }
        finally
        {
            NpmGate.Release();
        }
    }

    private static readonly SemaphoreSlim NpmGate = new(1, 1);
}

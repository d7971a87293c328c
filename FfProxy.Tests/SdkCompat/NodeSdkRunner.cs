using System.Diagnostics;
using System.Text.Json;
using System.Threading.Channels;
using FfProxy.Tests.Fixtures;

namespace FfProxy.Tests.SdkCompat;

/// <summary>
/// Runs one of the Node drivers in SdkCompat/node (a real Harness npm SDK) with a scenario, and exposes the
/// JSON lines it prints. Installs the locked npm packages on first use when they are missing.
/// </summary>
public sealed class NodeSdkRunner : IAsyncDisposable
{
    private readonly Process _process;
    private readonly Channel<JsonElement> _lines = Channel.CreateUnbounded<JsonElement>();
    private readonly Task _stdout;
    private readonly Task<string> _stderr;

    private NodeSdkRunner(Process process)
    {
        _process = process;
        _stdout = PumpAsync();
        _stderr = process.StandardError.ReadToEndAsync();
    }

    public static string NodeDirectory => Path.Combine(RepositoryPaths.TestProject, "SdkCompat", "node");

    public static async Task<NodeSdkRunner> StartAsync(string script, object scenario)
    {
        await EnsureInstalledAsync();
        var start = new ProcessStartInfo("node", [script, JsonSerializer.Serialize(scenario)])
        {
            WorkingDirectory = NodeDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        return new NodeSdkRunner(Process.Start(start)!);
    }

    /// <summary>The next line whose <c>event</c> is one of <paramref name="events"/>; other lines are skipped.</summary>
    public async Task<JsonElement> NextAsync(TimeSpan timeout, params string[] events)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            while (true)
            {
                var line = await _lines.Reader.ReadAsync(cts.Token);
                var kind = line.GetProperty("event").GetString();
                if (events.Contains(kind))
                {
                    return line;
                }

                if (kind == "error")
                {
                    Assert.Fail("SDK driver failed: " + line.GetRawText() + "\n" + await StderrTailAsync());
                }
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or ChannelClosedException)
        {
            Assert.Fail($"SDK driver printed no {string.Join("/", events)} in time.\n" + await StderrTailAsync());
            throw;
        }
    }

    private async Task<string> StderrTailAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }

        var text = await _stderr;
        return text.Length > 4000 ? text[^4000..] : text;
    }

    private async Task PumpAsync()
    {
        while (await _process.StandardOutput.ReadLineAsync() is { } line)
        {
            if (line.StartsWith('{'))
            {
                using var document = JsonDocument.Parse(line);
                await _lines.Writer.WriteAsync(document.RootElement.Clone());
            }
        }

        _lines.Writer.TryComplete();
    }

    private static Task EnsureInstalledAsync() => Commands.NpmCiAsync(NodeDirectory, Path.Combine("@harnessio", "ff-javascript-client-sdk"));

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }

        await _process.WaitForExitAsync();
        await _stdout;
        _process.Dispose();
    }
}

using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;

namespace FfProxy.Tests.Fixtures;

/// <summary>
/// A built FfProxy host (Primary or Replica) run by <c>dotnet</c> as its own operating-system process, so a test can
/// SIGKILL it the way an orchestrator or the OOM killer would, or SIGTERM it the way an operator stops it.
/// </summary>
public sealed class ProxyProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly System.Text.StringBuilder _output = new();

    private ProxyProcess(Process process, int port)
    {
        _process = process;
        BaseAddress = new Uri($"http://127.0.0.1:{port}");
        _process.OutputDataReceived += (_, e) => Append(e.Data);
        _process.ErrorDataReceived += (_, e) => Append(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public Uri BaseAddress { get; }

    public string Address => BaseAddress.ToString().TrimEnd('/');

    public bool HasExited => _process.HasExited;

    /// <summary>What the process wrote to stdout and stderr (its console log).</summary>
    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    /// <summary>
    /// Starts <paramref name="assembly"/> (e.g. <c>FfProxy.Replica.dll</c>) on a free port with
    /// <paramref name="environment"/> (configuration keys may use <c>:</c>; they are passed as <c>__</c>) and waits
    /// until its <c>/health</c> reports the stream state <c>CONNECTED</c>.
    /// </summary>
    public static async Task<ProxyProcess> StartAsync(string assembly, IDictionary<string, string> environment, TimeSpan? within = null)
    {
        var port = RedisServer.FreePort();
        var start = new ProcessStartInfo("dotnet", [Path.Combine(AppContext.BaseDirectory, assembly)])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var (key, value) in environment)
        {
            start.Environment[key.Replace(":", "__", StringComparison.Ordinal)] = value;
        }

        start.Environment["PORT"] = port.ToString(CultureInfo.InvariantCulture);
        start.Environment["ASPNETCORE_URLS"] = "";
        var child = new ProxyProcess(Process.Start(start)!, port);
        using var http = new HttpClient { BaseAddress = child.BaseAddress, Timeout = TimeSpan.FromSeconds(5) };
        await Eventually.TrueAsync(async () =>
        {
            Assert.False(child._process.HasExited, assembly + " exited: " + child.Output);
            try
            {
                var health = await http.GetFromJsonAsync<JsonElement>("/health");
                return health.GetProperty("streamStatus").GetProperty("state").GetString() == "CONNECTED";
            }
            catch (HttpRequestException)
            {
                return false;
            }
        }, within ?? TimeSpan.FromSeconds(60), assembly + " reports streamStatus CONNECTED");
        return child;
    }

    /// <summary>SIGKILL: no shutdown, no FIN from the application, connections reset by the kernel.</summary>
    public void Kill()
    {
        _process.Kill();
        _process.WaitForExit();
    }

    /// <summary>SIGTERM, as <c>docker stop</c> or Kubernetes sends it, then waits for the process to exit by itself.</summary>
    public async Task TerminateAsync(TimeSpan within)
    {
        Signal("-TERM");
        using var timeout = new CancellationTokenSource(within);
        await _process.WaitForExitAsync(timeout.Token);
    }

    /// <summary>SIGSTOP: the process stays up to its peers' eyes but does nothing, like one that lags far behind.</summary>
    public void Pause() => Signal("-STOP");

    /// <summary>SIGCONT after <see cref="Pause"/>.</summary>
    public void Resume() => Signal("-CONT");

    public ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            Resume();
            Kill();
        }

        _process.Dispose();
        return ValueTask.CompletedTask;
    }

    private void Signal(string signal)
    {
        using var kill = Process.Start("kill", [signal, _process.Id.ToString(CultureInfo.InvariantCulture)])!;
        kill.WaitForExit();
        Assert.Equal(0, kill.ExitCode);
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            _output.AppendLine(line);
        }
    }
}

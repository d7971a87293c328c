using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;

namespace FfProxy.Tests.Fixtures;

/// <summary>
/// FfProxy.Replica as its own operating-system process (the built assembly run by <c>dotnet</c>), so a test can
/// SIGKILL it the way an orchestrator or the OOM killer would.
/// </summary>
public sealed class ReplicaProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly System.Text.StringBuilder _output = new();

    private ReplicaProcess(Process process, int port)
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

    /// <summary>Starts a Replica on a free port and waits until it follows the Primary (stream state CONNECTED).</summary>
    public static async Task<ReplicaProcess> StartAsync(string redisAddress, TimeSpan? within = null)
    {
        var port = RedisServer.FreePort();
        var start = new ProcessStartInfo("dotnet", [Path.Combine(AppContext.BaseDirectory, "FfProxy.Replica.dll")])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.Environment["PORT"] = port.ToString(CultureInfo.InvariantCulture);
        start.Environment["REDIS_ADDRESS"] = redisAddress;
        start.Environment["AUTH_SECRET"] = PrimaryHost.AuthSecret;
        start.Environment["HEARTBEAT_INTERVAL"] = "0";
        start.Environment["FfProxy__Replication__StatePoll"] = "00:00:00.200";
        start.Environment["FfProxy__Replication__ResubscribeBackoff"] = "00:00:00.300";
        start.Environment["ASPNETCORE_URLS"] = "";
        var replica = new ReplicaProcess(Process.Start(start)!, port);
        using var http = new HttpClient { BaseAddress = replica.BaseAddress, Timeout = TimeSpan.FromSeconds(5) };
        await Eventually.TrueAsync(async () =>
        {
            Assert.False(replica._process.HasExited, "the Replica exited: " + replica.Output);
            try
            {
                var health = await http.GetFromJsonAsync<JsonElement>("/health");
                return health.GetProperty("streamStatus").GetProperty("state").GetString() == "CONNECTED";
            }
            catch (HttpRequestException)
            {
                return false;
            }
        }, within ?? TimeSpan.FromSeconds(60), "the Replica process follows the Primary");
        return replica;
    }

    /// <summary>SIGKILL: no shutdown, no FIN from the application, connections reset by the kernel.</summary>
    public void Kill()
    {
        _process.Kill();
        _process.WaitForExit();
    }

    /// <summary>SIGSTOP: the Replica stays up to the Gateway's eyes but reads nothing, like one that lags far behind.</summary>
    public void Pause() => Signal("-STOP");

    /// <summary>SIGCONT after <see cref="Pause"/>.</summary>
    public void Resume() => Signal("-CONT");

    private void Signal(string signal)
    {
        using var kill = Process.Start("kill", [signal, _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])!;
        kill.WaitForExit();
        if (kill.ExitCode != 0)
        {
            throw new InvalidOperationException($"kill {signal} failed with {kill.ExitCode}");
        }
    }

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

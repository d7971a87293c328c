using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using StackExchange.Redis;

namespace FfProxy.Tests.Fixtures;

/// <summary>
/// A real <c>redis-server</c> on a free loopback port, without persistence, in its own temp directory. It can be
/// stopped and started again on the same port to test outages.
/// </summary>
public sealed class RedisServer : IAsyncLifetime, IAsyncDisposable
{
    private readonly TempDirectory _directory = new();
    private readonly string[] _extraArguments;
    private readonly TlsFiles? _tls;
    private Process? _process;

    public RedisServer()
    {
        _extraArguments = [];
        Port = FreePort();
    }

    private RedisServer(string[] extraArguments, int port, TlsFiles? tls = null)
    {
        _extraArguments = extraArguments;
        Port = port;
        _tls = tls;
    }

    /// <summary>
    /// TLS only (no plain port), with <paramref name="tls"/>'s server certificate; with <paramref name="requireClientCertificate"/>,
    /// clients must present a certificate its CA signed (mTLS).
    /// </summary>
    public static RedisServer Tls(TlsFiles tls, bool requireClientCertificate)
    {
        var port = FreePort();
        return new(["--port", "0", "--tls-port", port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--tls-cert-file", tls.ServerCert, "--tls-key-file", tls.ServerKey, "--tls-ca-cert-file", tls.CaCert,
            "--tls-auth-clients", requireClientCertificate ? "yes" : "no"], port, tls);
    }

    /// <summary>A cluster node: same process handling, cluster mode on.</summary>
    public static RedisServer ClusterNode(int port) =>
        new(["--cluster-enabled", "yes", "--cluster-config-file", $"nodes-{port}.conf", "--cluster-node-timeout", "2000"], port);

    public int Port { get; }

    /// <summary>REDIS_ADDRESS for this server.</summary>
    public string Address => $"127.0.0.1:{Port}";

    public string WorkingDirectory => _directory.Path;

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public Task InitializeAsync() => StartAsync();

    public async Task StartAsync()
    {
        var start = new ProcessStartInfo("redis-server")
        {
            WorkingDirectory = _directory.Path,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in (string[])["--port", Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1",
                     "--save", "", "--appendonly", "no", .. _extraArguments])
        {
            start.ArgumentList.Add(argument);
        }

        _process = Process.Start(start) ?? throw new InvalidOperationException("redis-server did not start");
        _process.OutputDataReceived += static (_, _) => { };
        _process.ErrorDataReceived += static (_, _) => { };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        await Eventually.TrueAsync(PingsAsync, TimeSpan.FromSeconds(10), $"redis-server on port {Port} answers PING");
    }

    public async Task StopAsync()
    {
        if (_process is { HasExited: false } process)
        {
            process.Kill();
            await process.WaitForExitAsync();
        }

        _process?.Dispose();
        _process = null;
    }

    public async Task RestartAsync()
    {
        await StopAsync();
        await StartAsync();
    }

    /// <summary>A direct connection for tests to look at what the proxy stored.</summary>
    public async Task<ConnectionMultiplexer> ConnectAsync() =>
        await ConnectionMultiplexer.ConnectAsync($"{Address},allowAdmin=true");

    /// <summary>
    /// How many times this server has run <paramref name="command"/> (lower case, as <c>xread</c>) since it started (<c>INFO commandstats</c>): an
    /// effect tests can wait on, e.g. that a stream reader polls with XREAD.
    /// </summary>
    public async Task<long> CallsAsync(string command)
    {
        await using var redis = await ConnectAsync();
        var stats = await redis.GetServer(Address).InfoAsync("commandstats");
        var line = stats.SelectMany(g => g).FirstOrDefault(p => p.Key == "cmdstat_" + command);
        if (line.Value is null)
        {
            return 0;
        }

        // calls=12,usec=345,...
        var calls = line.Value.Split(',')[0];
        return long.Parse(calls["calls=".Length..], System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// How many clients are parked in a blocking XREAD right now (<c>CLIENT LIST</c>: flag <c>b</c>, last command
    /// <c>xread</c>): an effect tests can wait on, e.g. that a stream reader is blocked rather than polling.
    /// </summary>
    public async Task<int> BlockedStreamReadersAsync()
    {
        await using var redis = await ConnectAsync();
        var clients = await redis.GetServer(Address).ClientListAsync();
        return clients.Count(c => c.Flags.HasFlag(ClientFlags.Blocked) && string.Equals(c.LastCommand, "xread", StringComparison.OrdinalIgnoreCase));
    }

    public async Task FlushAsync()
    {
        await using var redis = await ConnectAsync();
        await redis.GetServer(Address).FlushAllDatabasesAsync();
    }

    public async Task DisposeAsync()
    {
        await StopAsync();
        _directory.Dispose();
    }

    async ValueTask IAsyncDisposable.DisposeAsync() => await DisposeAsync();

    /// <summary>Whether the server answers PING now (false while a test has stopped it).</summary>
    public async Task<bool> PingsAsync()
    {
        try
        {
            using var client = new TcpClient();
            await client.ConnectAsync(IPAddress.Loopback, Port);
            Stream stream = client.GetStream();
            if (_tls is not null)
            {
                // The fixture trusts exactly the server certificate it started redis-server with (pinned).
                var ssl = new System.Net.Security.SslStream(stream, leaveInnerStreamOpen: false);
                using var certificate = System.Security.Cryptography.X509Certificates.X509Certificate2.CreateFromPemFile(_tls.ClientCert, _tls.ClientKey);
                var tls = _tls;
                await ssl.AuthenticateAsClientAsync(new System.Net.Security.SslClientAuthenticationOptions
                {
                    TargetHost = "localhost",
                    ClientCertificates = [certificate],
                    RemoteCertificateValidationCallback = (_, presented, _, _) => tls.IsServerCertificate(presented),
                });
                stream = ssl;
            }

            await stream.WriteAsync("PING\r\n"u8.ToArray());
            var buffer = new byte[16];
            var read = await stream.ReadAsync(buffer);
            return System.Text.Encoding.ASCII.GetString(buffer, 0, read).StartsWith("+PONG", StringComparison.Ordinal);
        }
        catch (Exception ex) when (ex is SocketException or IOException or System.Security.Authentication.AuthenticationException)
        {
            return false;
        }
    }
}

/// <summary>Three <c>redis-server --cluster-enabled yes</c> nodes joined into one cluster (no replicas).</summary>
public sealed class RedisCluster : IAsyncLifetime
{
    private readonly List<RedisServer> _nodes = [];

    /// <summary>REDIS_ADDRESS for the cluster: the comma-separated node list.</summary>
    public string Address => string.Join(',', _nodes.Select(n => n.Address));

    public async Task InitializeAsync()
    {
        for (var i = 0; i < 3; i++)
        {
            var port = RedisServer.FreePort();
            var node = RedisServer.ClusterNode(port);
            _nodes.Add(node);
            await node.StartAsync();
        }

        var create = new ProcessStartInfo("redis-cli") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in (string[])["--cluster", "create", .. _nodes.Select(n => n.Address), "--cluster-replicas", "0", "--cluster-yes"])
        {
            create.ArgumentList.Add(argument);
        }

        using var process = Process.Start(create)!;
        var output = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, "redis-cli --cluster create failed: " + output);
        await Eventually.TrueAsync(ClusterOkAsync, TimeSpan.FromSeconds(20), "the cluster reports cluster_state:ok");
    }

    public async Task DisposeAsync()
    {
        foreach (var node in _nodes)
        {
            await node.DisposeAsync();
        }
    }

    private async Task<bool> ClusterOkAsync()
    {
        foreach (var node in _nodes)
        {
            await using var redis = await ConnectionMultiplexer.ConnectAsync($"{node.Address},allowAdmin=true,abortConnect=false");
            var info = (string?)await redis.GetServer(node.Address).ExecuteAsync("CLUSTER", "INFO");
            if (info is null || !info.Contains("cluster_state:ok", StringComparison.Ordinal))
            {
                return false;
            }
        }

        return true;
    }
}

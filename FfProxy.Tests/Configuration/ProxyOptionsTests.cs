using System.Diagnostics;
using FfProxy.Core.Configuration;
using FfProxy.Tests.Fixtures;
using Microsoft.Extensions.Configuration;

namespace FfProxy.Tests.Configuration;

public sealed class ProxyOptionsTests
{
    [Fact]
    public void Defaults_follow_the_documented_values()
    {
        var options = Read(("PROXY_KEY", "pk"));

        Assert.Equal("secret", options.AuthSecret);
        Assert.Equal(new Uri("https://config.ff.harness.io/api/1.0"), options.ClientService);
        Assert.Equal(new Uri("https://events.ff.harness.io/api/1.0"), options.MetricService);
        Assert.Equal(60, options.MetricPostDuration);
        Assert.Equal(60, options.HeartbeatInterval);
        Assert.Equal(7000, options.Port);
        Assert.Equal(7000, options.PrometheusPort);
        Assert.Equal(1000, options.MetricsStreamMaxLen);
        Assert.Equal(10, options.MetricStreamReadConcurrency);
        Assert.Equal("/config", options.ConfigDir);
        Assert.True(options.InMemoryStore);
        Assert.False(options.AndRules || options.BypassAuth || options.ForwardTargets || options.Offline);
    }

    [Theory]
    [InlineData("1", true)]
    [InlineData("t", true)]
    [InlineData("TRUE", true)]
    [InlineData("True", true)]
    [InlineData("0", false)]
    [InlineData("F", false)]
    [InlineData("false", false)]
    public void Booleans_accept_go_syntax(string value, bool expected)
    {
        Assert.Equal(expected, Read(("PROXY_KEY", "pk"), ("AND_RULES", value)).AndRules);
    }

    [Fact]
    public void Proxy_key_is_trimmed_of_stray_whitespace()
    {
        Assert.Equal("pk with inner space", Read(("PROXY_KEY", "  pk with inner space\n")).ProxyKey);
    }

    [Fact]
    public void Zero_intervals_mean_disabled_not_a_crash()
    {
        var options = Read(("PROXY_KEY", "pk"), ("METRIC_POST_DURATION", "0"), ("HEARTBEAT_INTERVAL", "0"));

        Assert.Equal(0, options.MetricPostDuration);
        Assert.Equal(0, options.HeartbeatInterval);
    }

    [Fact]
    public void A_max_retry_backoff_below_the_min_is_refused()
    {
        var ex = Assert.Throws<ProxyConfigurationException>(() => Read(
            ("OFFLINE", "true"), ("CONFIG_DIR", RepositoryPaths.SampleConfig),
            ("REDIS_MIN_RETRY_BACKOFF_MILLIS", "100"), ("REDIS_MAX_RETRY_BACKOFF_MILLIS", "50")));

        Assert.Contains(ex.Problems, p => p.StartsWith("REDIS_MAX_RETRY_BACKOFF_MILLIS:", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Connection_pool_variables_are_accepted_and_logged_once_as_ignored()
    {
        var logs = new CapturedLogs();
        var settings = new Dictionary<string, string> { ["REDIS_POOL_SIZE"] = "20", ["REDIS_CON_MAX_LIFETIME_MINUTES"] = "5" };
        await PrimaryHost.StartOffline(settings, logs: logs).DisposeAsync();

        var lines = logs.Lines.Where(l => l.Contains("ignored: StackExchange.Redis multiplexes", StringComparison.Ordinal)).ToList();
        var line = Assert.Single(lines);
        Assert.Contains("REDIS_POOL_SIZE, REDIS_CON_MAX_LIFETIME_MINUTES", line, StringComparison.Ordinal);
        Assert.Empty(Read(("OFFLINE", "true"), ("CONFIG_DIR", RepositoryPaths.SampleConfig)).Redis.IgnoredPoolVariables);
    }

    [Fact]
    public void Every_bad_variable_is_named_in_one_error()
    {
        var ex = Assert.Throws<ProxyConfigurationException>(() => Read(
            ("OFFLINE", "maybe"),
            ("PORT", "seventy"),
            ("METRIC_POST_DURATION", "-5"),
            ("CLIENT_SERVICE", "ftp://nope"),
            ("LOG_LEVEL", "LOUD")));

        Assert.Contains(ex.Problems, p => p.StartsWith("OFFLINE:", StringComparison.Ordinal));
        Assert.Contains(ex.Problems, p => p.StartsWith("PORT:", StringComparison.Ordinal));
        Assert.Contains(ex.Problems, p => p.StartsWith("METRIC_POST_DURATION:", StringComparison.Ordinal));
        Assert.Contains(ex.Problems, p => p.StartsWith("CLIENT_SERVICE:", StringComparison.Ordinal));
        Assert.Contains(ex.Problems, p => p.StartsWith("LOG_LEVEL:", StringComparison.Ordinal));
        Assert.Contains(ex.Problems, p => p.StartsWith("PROXY_KEY:", StringComparison.Ordinal));
    }

    [Fact]
    public void Offline_needs_no_proxy_key_but_an_existing_config_dir()
    {
        Assert.True(Read(("OFFLINE", "true"), ("CONFIG_DIR", RepositoryPaths.SampleConfig)).Offline);

        var ex = Assert.Throws<ProxyConfigurationException>(() => Read(("OFFLINE", "true"), ("CONFIG_DIR", "/definitely/not/here")));
        Assert.Contains(ex.Problems, p => p.StartsWith("CONFIG_DIR:", StringComparison.Ordinal));
    }

    [Fact]
    public void Tls_needs_readable_certificate_and_key()
    {
        var ex = Assert.Throws<ProxyConfigurationException>(() => Read(("PROXY_KEY", "pk"), ("TLS_ENABLED", "true"), ("TLS_CERT", "/nope.crt")));

        Assert.Contains(ex.Problems, p => p.StartsWith("TLS_CERT:", StringComparison.Ordinal));
        Assert.Contains(ex.Problems, p => p.StartsWith("TLS_KEY:", StringComparison.Ordinal));
    }

    [Fact]
    public void Error_messages_never_contain_secret_values()
    {
        var ex = Assert.Throws<ProxyConfigurationException>(() => Read(("AUTH_SECRET", "super-secret-value"), ("PROXY_KEY", "pk-secret-value"), ("PORT", "x")));

        Assert.DoesNotContain("super-secret-value", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("pk-secret-value", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Primary_with_a_bad_variable_exits_with_a_message_naming_it()
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "FfProxy.Primary.dll");
        var start = new ProcessStartInfo("dotnet", [dll]) { RedirectStandardError = true, RedirectStandardOutput = true };
        start.Environment["OFFLINE"] = "true";
        start.Environment["CONFIG_DIR"] = RepositoryPaths.SampleConfig;
        start.Environment["METRIC_POST_DURATION"] = "soon";
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await process.WaitForExitAsync(cts.Token);

        Assert.Equal(2, process.ExitCode);
        Assert.Contains("METRIC_POST_DURATION: 'soon' is not a whole number.", await stderr, StringComparison.Ordinal);
    }

    private static ProxyOptions Read(params (string Name, string Value)[] variables) =>
        ProxyOptionsReader.Read(new ConfigurationBuilder()
            .AddInMemoryCollection(variables.Select(v => new KeyValuePair<string, string?>(v.Name, v.Value)))
            .Build());
}

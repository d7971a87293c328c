using FfProxy.Core.Configuration;
using FfProxy.Gateway;
using FfProxy.Tests.Fixtures;
using Microsoft.Extensions.Configuration;

namespace FfProxy.Tests.Gateway;

/// <summary>The Gateway reads its variables with the same syntax as the Primary and the Replicas.</summary>
public sealed class GatewayOptionsTests : IDisposable
{
    private readonly TlsFiles _files = new();

    public void Dispose() => _files.Dispose();

    [Theory]
    [InlineData("1", true)]
    [InlineData("t", true)]
    [InlineData("TRUE", true)]
    [InlineData("True", true)]
    [InlineData("true", true)]
    [InlineData("0", false)]
    [InlineData("F", false)]
    [InlineData("false", false)]
    public void Tls_enabled_parses_like_the_primarys(string value, bool expected)
    {
        var settings = new Dictionary<string, string?> { ["TLS_ENABLED"] = value, ["TLS_CERT"] = _files.ServerCert, ["TLS_KEY"] = _files.ServerKey };

        var gateway = GatewayOptions.Read(new ConfigurationBuilder().AddInMemoryCollection(settings).Build());
        var primary = ProxyOptionsReader.Read(new ConfigurationBuilder().AddInMemoryCollection(settings)
            .AddInMemoryCollection([new("PROXY_KEY", "pk")]).Build());

        Assert.Equal(expected, gateway.Listener.TlsEnabled);
        Assert.Equal(primary.TlsEnabled, gateway.Listener.TlsEnabled);
    }

    [Fact]
    public void A_tls_enabled_that_is_not_a_boolean_is_refused_naming_it()
    {
        var ex = Assert.Throws<GatewayConfigurationException>(() => GatewayOptions.Read(new ConfigurationBuilder()
            .AddInMemoryCollection([new("TLS_ENABLED", "yes")]).Build()));

        Assert.Equal("TLS_ENABLED: 'yes' is not a boolean; use true or false.", ex.Message);
    }

    [Theory]
    [InlineData("RequestTimeout", "soon")]
    [InlineData("RequestTimeout", "00:00:00")]
    [InlineData("StreamIdleTimeout", "-00:01:00")]
    [InlineData("HealthCheckInterval", "5s")]
    public void A_duration_that_is_not_a_positive_time_span_is_refused_naming_it(string name, string value)
    {
        var ex = Assert.Throws<GatewayConfigurationException>(() => GatewayOptions.Read(new ConfigurationBuilder()
            .AddInMemoryCollection([new("FfProxy:Gateway:" + name, value)]).Build()));

        Assert.Equal($"FfProxy:Gateway:{name}: '{value}' is not a positive duration (hh:mm:ss).", ex.Message);
    }

    [Fact]
    public void Durations_default_and_parse()
    {
        var defaults = GatewayOptions.Read(new ConfigurationBuilder().Build());
        var set = GatewayOptions.Read(new ConfigurationBuilder().AddInMemoryCollection([new("FfProxy:Gateway:RequestTimeout", "00:00:15")]).Build());

        Assert.Equal(TimeSpan.FromSeconds(60), defaults.RequestTimeout);
        Assert.Equal(TimeSpan.FromMinutes(10), defaults.StreamIdleTimeout);
        Assert.Equal(TimeSpan.FromSeconds(15), set.RequestTimeout);
    }
}

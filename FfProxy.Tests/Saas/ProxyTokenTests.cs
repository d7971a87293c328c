using System.Buffers.Text;
using System.Text;
using FfProxy.Primary.Saas;

namespace FfProxy.Tests.Saas;

public sealed class ProxyTokenTests
{
    [Fact]
    public void Reads_cluster_account_and_environments_without_verifying()
    {
        var jwt = Jwt("""{"cluster_identifier":"7","account":"acc-1","key_type":"Proxy","environments":["e1","e2"]}""");

        var token = ProxyToken.Parse(jwt);

        Assert.Equal(jwt, token.Value);
        Assert.Equal("7", token.ClusterIdentifier);
        Assert.Equal("acc-1", token.Account);
        Assert.Equal(["e1", "e2"], token.Environments);
    }

    [Theory]
    [InlineData("""{"account":"a"}""")]
    [InlineData("""{"cluster_identifier":"","account":"a"}""")]
    public void Cluster_defaults_to_1(string payload)
    {
        Assert.Equal("1", ProxyToken.Parse(Jwt(payload)).ClusterIdentifier);
    }

    [Fact]
    public void A_numeric_cluster_claim_is_used_as_text()
    {
        Assert.Equal("3", ProxyToken.Parse(Jwt("""{"cluster_identifier":3}""")).ClusterIdentifier);
    }

    [Theory]
    [InlineData("opaque")]
    [InlineData("a.%%%.c")]
    [InlineData("a.bm90IGpzb24.c")]
    public void An_unreadable_token_still_works_with_defaults(string jwt)
    {
        var token = ProxyToken.Parse(jwt);

        Assert.Equal(jwt, token.Value);
        Assert.Equal("1", token.ClusterIdentifier);
        Assert.Equal("", token.Account);
        Assert.Empty(token.Environments);
    }

    private static string Jwt(string payload) =>
        "eyJhbGciOiJIUzI1NiJ9." + Base64Url.EncodeToString(Encoding.UTF8.GetBytes(payload)) + ".c2ln";
}

using FfProxy.Core.Caching;
using FfProxy.Core.Configuration;
using FfProxy.Core.Sdk;
using FfProxy.Tests.Fixtures;
using Microsoft.Extensions.Configuration;
using Microsoft.IdentityModel.JsonWebTokens;

namespace FfProxy.Tests.Sdk;

/// <summary>
/// TokenService remembers verified signatures by the whole token. Key removal is covered end to end where a token
/// that was already served is refused after its key goes (OfflineModeTests, Primary/EventTests).
/// </summary>
public sealed class VerifiedTokenTests : IDisposable
{
    private readonly TestMeterFactory _meters = new();

    public void Dispose() => _meters.Dispose();

    [Fact]
    public void A_token_verified_once_is_not_parsed_and_verified_again()
    {
        var service = Service("the-secret");
        var token = service.Issue(ApiKey, Sample.Environment);

        var first = service.Verify(token);
        var second = service.Verify(token);

        Assert.NotNull(first);
        Assert.Same(first, second);
        Assert.Equal(Sample.Environment, first.Environment);
        Assert.Equal(ApiKey, first.ApiKey);
    }

    [Fact]
    public void A_token_differing_from_a_remembered_one_in_its_claims_is_still_refused()
    {
        var service = Service("the-secret");
        var token = service.Issue(ApiKey, Sample.Environment);
        service.Verify(token);
        var parts = token.Split('.');
        var forged = parts[0] + "." + System.Buffers.Text.Base64Url.EncodeToString(
            """{"apiKey":"auth-key-x","environment":"other-env","clusterIdentifier":"1","nbf":1,"iat":1}"""u8) + "." + parts[2];

        Assert.Null(service.Verify(forged));
    }

    [Fact]
    public void After_a_rotation_without_the_old_secret_a_token_remembered_before_is_refused()
    {
        var before = Service("the-old-secret");
        var token = before.Issue(ApiKey, Sample.Environment);

        var after = Service("the-new-secret");

        Assert.NotNull(before.Verify(token));
        Assert.Null(after.Verify(token));
    }

    [Fact]
    public void The_remembered_tokens_are_bounded()
    {
        var verified = new VerifiedTokens(capacity: 3);
        var token = VerifiedToken.From(new JsonWebToken(Service("s").Issue(ApiKey, Sample.Environment)), legacySecret: false)!;

        for (var i = 0; i < 10; i++)
        {
            verified.Add($"token-{i}", token);
        }

        Assert.InRange(verified.Count, 1, 3);
        Assert.True(verified.TryGet("token-9", out _));
    }

    private static string ApiKey => "auth-key-" + SdkKeyHash.Compute(Sample.ServerKey);

    private TokenService Service(string secret)
    {
        var options = ProxyOptionsReader.Read(new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["AUTH_SECRET"] = secret,
            ["OFFLINE"] = "true",
            ["CONFIG_DIR"] = RepositoryPaths.SampleConfig,
        }).Build());
        return new TokenService(options, TimeProvider.System, new ProxyMetrics(_meters, ProxyRole.Primary));
    }
}

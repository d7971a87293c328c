using FfProxy.Core.Sdk;
using FfProxy.Replica;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace FfProxy.Tests.Replica;

public sealed class ReplicaRoleTests
{
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void A_replica_is_a_replica_whichever_of_its_options_and_the_sdk_api_is_added_first(bool sdkApiFirst)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Configuration.AddInMemoryCollection([new("REDIS_ADDRESS", "localhost:6379")]);
        if (sdkApiFirst)
        {
            builder.AddSdkApi();
        }

        builder.AddReplicaOptions();
        if (!sdkApiFirst)
        {
            builder.AddSdkApi();
        }

        using var services = builder.Services.BuildServiceProvider();
        Assert.Equal(ProxyRole.Replica, services.GetRequiredService<ProxyRole>());
        Assert.Single(builder.Services, d => d.ServiceType == typeof(ProxyRole));
    }

    [Fact]
    public void Without_replica_options_the_sdk_api_serves_as_the_primary()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.AddSdkApi();

        using var services = builder.Services.BuildServiceProvider();
        Assert.Equal(ProxyRole.Primary, services.GetRequiredService<ProxyRole>());
    }
}

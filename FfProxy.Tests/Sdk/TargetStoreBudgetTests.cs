using FfProxy.Core.Caching;
using FfProxy.Core.Sdk;
using Microsoft.Extensions.Time.Testing;

namespace FfProxy.Tests.Sdk;

public sealed class TargetStoreBudgetTests
{
    [Fact]
    public void New_identifiers_past_the_limit_are_refused_per_environment_while_known_ones_stay_writable()
    {
        var time = new FakeTimeProvider();
        var budget = new TargetStoreBudget(time);
        for (var i = 0; i < TargetStoreBudget.MaxPerEnvironment; i++)
        {
            Assert.True(budget.TryTake("env-a", "t" + i));
        }

        Assert.False(budget.TryTake("env-a", "one-too-many"));
        Assert.True(budget.TryTake("env-a", "t0"));
        Assert.True(budget.TryTake("env-b", "one-too-many"));
    }

    [Fact]
    public void The_budget_renews_when_the_expiry_window_has_passed()
    {
        var time = new FakeTimeProvider();
        var budget = new TargetStoreBudget(time);
        for (var i = 0; i < TargetStoreBudget.MaxPerEnvironment; i++)
        {
            budget.TryTake("env-a", "t" + i);
        }

        time.Advance(ConfigRepository.TargetExpiry - TimeSpan.FromSeconds(1));
        Assert.False(budget.TryTake("env-a", "late"));
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.True(budget.TryTake("env-a", "late"));
    }
}

using FfProxy.Core.Domain;

namespace FfProxy.Core.Sdk;

/// <summary>
/// FORWARD_TARGETS (spec §3.8): targets seen at <c>/client/auth</c> are passed on to SaaS, fire and forget,
/// so authentication never waits for SaaS or fails because of it.
/// </summary>
internal interface ITargetForwarder
{
    void Forward(string sdkKey, Target target);
}

/// <summary>The default: targets reach SaaS only as <c>targetData</c> in forwarded metrics.</summary>
internal sealed class NoTargetForwarding : ITargetForwarder
{
    public void Forward(string sdkKey, Target target)
    {
    }
}

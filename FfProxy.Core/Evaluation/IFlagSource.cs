using FfProxy.Core.Domain;

namespace FfProxy.Core.Evaluation;

/// <summary>Look-ups evaluation needs: prerequisite flags and target groups, from one consistent snapshot.</summary>
internal interface IFlagSource
{
    FeatureConfig? GetFlag(string identifier);

    Segment? GetSegment(string identifier);
}

using FfProxy.Core.Domain;

namespace FfProxy.Core.Evaluation;

/// <summary>
/// Done once when configuration is stored, never per evaluation: flag rules and group serving rules sorted
/// by priority, ascending and stable (equal priorities keep their order), as the Go SDK's repository does.
/// </summary>
internal static class FlagPreparation
{
    public static FeatureConfig Prepare(FeatureConfig flag) =>
        flag.Rules is { Count: > 1 } rules && !IsSorted(rules, r => r.Priority)
            ? flag with { Rules = [.. rules.OrderBy(r => r.Priority)] }
            : flag;

    public static Segment Prepare(Segment segment) =>
        segment.ServingRules is { Count: > 1 } rules && !IsSorted(rules, r => r.Priority)
            ? segment with { ServingRules = [.. rules.OrderBy(r => r.Priority)] }
            : segment;

    private static bool IsSorted<T>(IReadOnlyList<T> items, Func<T, int> priority)
    {
        for (var i = 1; i < items.Count; i++)
        {
            if (priority(items[i - 1]) > priority(items[i]))
            {
                return false;
            }
        }

        return true;
    }
}

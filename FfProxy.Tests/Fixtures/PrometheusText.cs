using System.Text.RegularExpressions;

namespace FfProxy.Tests.Fixtures;

/// <summary>Reads Prometheus text exposition: samples by metric name and label values.</summary>
public static partial class PrometheusText
{
    /// <summary>True when a sample of <paramref name="metric"/> carries every one of <paramref name="labels"/>.</summary>
    public static bool HasSample(string scrape, string metric, params (string Name, string Value)[] labels)
    {
        foreach (Match match in Sample().Matches(scrape))
        {
            if (match.Groups["name"].Value != metric)
            {
                continue;
            }

            var present = LabelPair().Matches(match.Groups["labels"].Value)
                .Select(l => (l.Groups["k"].Value, l.Groups["v"].Value)).ToHashSet();
            if (labels.All(present.Contains))
            {
                return true;
            }
        }

        return false;
    }

    [GeneratedRegex(@"^(?<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?<labels>[^}]*)\})? ", RegexOptions.Multiline)]
    private static partial Regex Sample();

    [GeneratedRegex("(?<k>[a-zA-Z_][a-zA-Z0-9_]*)=\"(?<v>(?:[^\"\\\\]|\\\\.)*)\"")]
    private static partial Regex LabelPair();
}

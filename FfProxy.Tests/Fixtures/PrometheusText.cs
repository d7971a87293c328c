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

    /// <summary>Values of the samples of <paramref name="metric"/> that carry every one of <paramref name="labels"/>.</summary>
    public static IReadOnlyList<double> Values(string scrape, string metric, params (string Name, string Value)[] labels) =>
        [.. SampleLine().Matches(scrape)
            .Where(m => m.Groups["name"].Value == metric)
            .Where(m => labels.All(LabelPair().Matches(m.Groups["labels"].Value).Select(l => (l.Groups["k"].Value, l.Groups["v"].Value)).ToHashSet().Contains))
            .Select(m => double.Parse(m.Groups["value"].Value, System.Globalization.CultureInfo.InvariantCulture))];

    [GeneratedRegex(@"^(?<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?<labels>[^}]*)\})? (?<value>[^ \n]+)", RegexOptions.Multiline)]
    private static partial Regex SampleLine();

    [GeneratedRegex(@"^(?<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?<labels>[^}]*)\})? ", RegexOptions.Multiline)]
    private static partial Regex Sample();

    [GeneratedRegex("(?<k>[a-zA-Z_][a-zA-Z0-9_]*)=\"(?<v>(?:[^\"\\\\]|\\\\.)*)\"")]
    private static partial Regex LabelPair();
}

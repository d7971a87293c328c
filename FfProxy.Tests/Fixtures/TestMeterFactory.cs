using System.Diagnostics.Metrics;

namespace FfProxy.Tests.Fixtures;

/// <summary>An <see cref="IMeterFactory"/> for unit tests that owns and disposes its meters.</summary>
public sealed class TestMeterFactory : IMeterFactory
{
    private readonly List<Meter> _meters = [];

    public Meter Create(MeterOptions options)
    {
        var meter = new Meter(options);
        lock (_meters)
        {
            _meters.Add(meter);
        }

        return meter;
    }

    /// <summary>True for meters this factory created, so a listener can ignore those of tests running in parallel.</summary>
    public bool Created(Meter meter)
    {
        lock (_meters)
        {
            return _meters.Contains(meter);
        }
    }

    public void Dispose()
    {
        foreach (var meter in _meters)
        {
            meter.Dispose();
        }
    }
}

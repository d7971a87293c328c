namespace Aspire.Hosting;

/// <summary>Runtime settings every FfProxy service runs with, wherever the AppHost's model is deployed.</summary>
public static class RuntimeTuningExtensions
{
    /// <summary>32 MiB, in the hexadecimal the runtime reads.</summary>
    public const string Gen0Budget = "0x2000000";

    /// <summary>
    /// 8 MiB for the Gateway: what it allocates is short-lived (forwarded requests, SDK stream checks), and a burst of
    /// 10,000 SDK streams left 13.9-14.4 KB resident per stream with it, 15.2-15.3 KB with 16 MiB and 16.1 KB with
    /// 32 MiB (fresh processes, streams held by bench/hold-streams.py); CPU per forwarded request did not move
    /// measurably (38.7-43.3 µs against 39.7-40.4 µs with 16 MiB, interleaved 8 s wrk runs).
    /// </summary>
    public const string GatewayGen0Budget = "0x800000";

    /// <summary>
    /// Caps the GC's first-generation budget at <see cref="Gen0Budget"/>. The runtime sizes it from the CPU's
    /// last-level cache, and cloud hosts share large ones (260 MiB on the 2-core VM the benchmarks run on): a process
    /// then keeps well over 100 MiB of garbage resident between collections. With the cap a Replica's preload of
    /// 1000 environments peaked at 182-204 MiB instead of 274-282, and the Primary's event storm at 263 instead of
    /// 282-287 (bench/account-scale.sh); at 2-3 KiB allocated per SDK request it costs a collection every ~10k
    /// requests. Only an environment variable sets it (runtimeconfig.json does not), so the model carries it.
    /// </summary>
    public static IResourceBuilder<ProjectResource> WithGen0Budget(this IResourceBuilder<ProjectResource> project, string budget = Gen0Budget) =>
        project.WithEnvironment("DOTNET_GCgen0size", budget);
}

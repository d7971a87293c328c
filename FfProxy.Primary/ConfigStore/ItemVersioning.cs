namespace FfProxy.Primary.ConfigStore;

/// <summary>How a replacement treats an item whose content changed.</summary>
internal enum ItemVersioning
{
    /// <summary>
    /// Hand-edited sources (the offline directory) reuse versions; an edited item gets the next version so
    /// SDKs, which drop updates that are not newer than what they hold, take it.
    /// </summary>
    BumpOnEdit,

    /// <summary>
    /// SaaS versions are authoritative and stored as received; a patch event is sent only when the version
    /// went up (the Go proxy's versioned inventory), so a re-sync does not make every SDK refetch.
    /// </summary>
    AsReceived,
}

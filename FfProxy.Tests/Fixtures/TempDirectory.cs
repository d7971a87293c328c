namespace FfProxy.Tests.Fixtures;

/// <summary>A fresh directory under the system temp folder, deleted on dispose.</summary>
public sealed class TempDirectory : IDisposable
{
    public TempDirectory(string? copyFrom = null)
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "ffproxy-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
        if (copyFrom is not null)
        {
            Copy(new DirectoryInfo(copyFrom), Path);
        }
    }

    public string Path { get; }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
            // A watcher may still hold the folder for a moment; the temp folder is cleaned by the OS.
        }
    }

    private static void Copy(DirectoryInfo source, string destination)
    {
        Directory.CreateDirectory(destination);
        foreach (var file in source.GetFiles())
        {
            file.CopyTo(System.IO.Path.Combine(destination, file.Name));
        }

        foreach (var child in source.GetDirectories())
        {
            Copy(child, System.IO.Path.Combine(destination, child.Name));
        }
    }
}

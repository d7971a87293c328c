namespace FfProxy.Tests.Fixtures;

/// <summary>Locations inside the repository, found from the test assembly's folder.</summary>
public static class RepositoryPaths
{
    public static string Root { get; } = FindRoot();

    public static string SampleConfig => Path.Combine(Root, "config", "sample");

    public static string TestProject => Path.Combine(Root, "FfProxy.Tests");

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "FfProxy.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("FfProxy.sln not found above " + AppContext.BaseDirectory);
    }
}

/// <summary>The sample configuration's environment and SDK keys (see config/sample and the README).</summary>
public static class Sample
{
    public const string Environment = "8d9c2b3a-5e4f-4a1b-9c8d-7e6f5a4b3c2d";
    public const string ServerKey = "5f5c3a8e-0c6b-4d3e-9b1a-7c2d4e6f8a10";
    public const string ClientKey = "b7e2c4d6-1a3f-4e5b-8c9d-0f1e2d3c4b5a";

    public static string EnvironmentDirectory(string configDir) => Path.Combine(configDir, "env-" + Environment);
}

namespace DeepEP.Tests;

/// <summary>Where the repository's files are, for tests that read sources and docs.</summary>
internal static class RepositoryPaths
{
    /// <summary>The folder holding <c>DeepEP.slnx</c>, found above the test binaries.</summary>
    public static string Root { get; } = FindRoot();

    private static string FindRoot()
    {
        for (DirectoryInfo? folder = new(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
        {
            if (File.Exists(Path.Combine(folder.FullName, "DeepEP.slnx")))
            {
                return folder.FullName;
            }
        }
        throw new DirectoryNotFoundException($"No DeepEP.slnx above {AppContext.BaseDirectory}.");
    }
}

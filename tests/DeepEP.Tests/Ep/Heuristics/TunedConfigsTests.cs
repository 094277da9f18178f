using DeepEP.Ep.Heuristics;

namespace DeepEP.Tests.Ep.Heuristics;

public sealed class TunedConfigsTests
{
    [Fact]
    public void SavedCountsAreFoundPerGpuAndRankCount()
    {
        string path = Path.Combine(Path.GetTempPath(), $"deepep-tuned-{Guid.NewGuid():N}", "tuned-configs.json");
        Assert.Null(TunedConfigs.Lookup("NVIDIA H200", 2, path));
        TunedConfigs.Save("NVIDIA H200", 2, 24, "4096 tokens", path);
        TunedConfigs.Save("NVIDIA H200", 8, 32, "4096 tokens", path);
        TunedConfigs.Save("NVIDIA H200", 2, 20, "retuned", path);
        Assert.Equal(20, TunedConfigs.Lookup("NVIDIA H200", 2, path));
        Assert.Equal(32, TunedConfigs.Lookup("NVIDIA H200", 8, path));
        Assert.Null(TunedConfigs.Lookup("NVIDIA H100", 2, path));
    }

    [Fact]
    public void ADamagedFileOnlyLosesTheTuning()
    {
        string path = Path.Combine(Path.GetTempPath(), $"deepep-tuned-{Guid.NewGuid():N}.json");
        File.WriteAllText(path, "{ not json");
        Assert.Null(TunedConfigs.Lookup("NVIDIA H200", 2, path));
    }
}

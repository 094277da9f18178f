using DeepEP.Distributed;

namespace DeepEP.Tests.Distributed;

public sealed class DistributedEnvironmentTests
{
    private static Dictionary<string, string?> Variables(params (string Name, string? Value)[] values) =>
        values.ToDictionary(value => value.Name, value => value.Value);

    [Fact]
    public void ReadsWhatTorchrunSets()
    {
        var environment = DistributedEnvironment.FromVariables(Variables(
            ("RANK", "5"), ("WORLD_SIZE", "8"), ("LOCAL_RANK", "1"), ("LOCAL_WORLD_SIZE", "4"),
            ("MASTER_ADDR", "10.0.0.1"), ("MASTER_PORT", "12345")));
        Assert.Equal(new DistributedEnvironment(5, 8, 1, 4, "10.0.0.1", 12345, nodeRank: 1, nodeCount: 2), environment);
    }

    [Fact]
    public void ReadsNodeRankAndNodeCountWhereTheLauncherSetsThem()
    {
        var environment = DistributedEnvironment.FromVariables(Variables(
            ("RANK", "0"), ("WORLD_SIZE", "4"), ("LOCAL_RANK", "0"), ("LOCAL_WORLD_SIZE", "1"), ("NODE_RANK", "0"), ("NNODES", "4")));
        Assert.Equal((0, 4), (environment.NodeRank, environment.NodeCount));
    }

    [Fact]
    public void DefaultsPutEveryRankOnThisHostWithTorchrunsMaster()
    {
        var environment = DistributedEnvironment.FromVariables(Variables(("RANK", "2"), ("WORLD_SIZE", "3"), ("MASTER_ADDR", "")));
        Assert.Equal(new DistributedEnvironment(2, 3, 2, 3, "127.0.0.1", 29500, 0, 1), environment);
    }

    [Theory]
    [InlineData("RANK", null, "RANK is not set")]
    [InlineData("WORLD_SIZE", null, "WORLD_SIZE is not set")]
    [InlineData("RANK", "x", "RANK='x' is not a non-negative integer")]
    [InlineData("RANK", "-1", "RANK='-1' is not a non-negative integer")]
    [InlineData("RANK", "4", "RANK=4 is out of range: set it to this process's rank, 0 ≤ RANK < WORLD_SIZE=4")]
    [InlineData("WORLD_SIZE", "0", "WORLD_SIZE=0 is out of range")]
    [InlineData("LOCAL_RANK", "2", "LOCAL_RANK=2 is out of range")]
    [InlineData("LOCAL_WORLD_SIZE", "5", "LOCAL_WORLD_SIZE=5 is out of range")]
    [InlineData("MASTER_PORT", "70000", "MASTER_PORT=70000 is out of range: set it to the TCP port rank 0 listens on")]
    [InlineData("MASTER_PORT", "http", "MASTER_PORT='http' is not a non-negative integer")]
    [InlineData("NODE_RANK", "2", "NODE_RANK=2 is out of range")]
    public void ABadVariableIsNamedWithItsFix(string name, string? value, string expected)
    {
        var variables = Variables(("RANK", "1"), ("WORLD_SIZE", "4"), ("LOCAL_RANK", "1"), ("LOCAL_WORLD_SIZE", "2"), ("NNODES", "2"));
        variables[name] = value;
        var error = Assert.Throws<InvalidOperationException>(() => DistributedEnvironment.FromVariables(variables));
        Assert.Contains(expected, error.Message);
    }

    [Fact]
    public void AMissingRankPointsAtTheLauncher()
    {
        var error = Assert.Throws<InvalidOperationException>(() => DistributedEnvironment.FromVariables(Variables(("WORLD_SIZE", "2"))));
        Assert.Contains("deepep launch", error.Message);
    }

    [Fact]
    public void TheConstructorRejectsImpossibleValues()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new DistributedEnvironment(2, 2, 0, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new DistributedEnvironment(0, 2, 1, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new DistributedEnvironment(0, 2, 0, 1, masterPort: 0));
        Assert.Throws<ArgumentException>(() => new DistributedEnvironment(0, 2, 0, 1, masterAddress: " "));
    }
}

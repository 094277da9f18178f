using System.CommandLine;
using DeepEP.Cli.Launch;

namespace DeepEP.Tests.Cli.Launch;

public sealed class LaunchCommandTests
{
    [Fact]
    public async Task RunsTheCommandAfterTheDoubleDashWithItsOwnOptions()
    {
        var parsed = LaunchCommand.Create().Parse(["-n", "2", "--master-port", "23456", "--", "/bin/sh", "-c", "echo $RANK $MASTER_PORT"]);
        Assert.Empty(parsed.Errors);
        using var output = new StringWriter();
        using var error = new StringWriter();
        int status = await parsed.InvokeAsync(new InvocationConfiguration { Output = output, Error = error }, TestContext.Current.CancellationToken);
        Assert.Equal(0, status);
        Assert.Equal(["[rank 0] 0 23456", "[rank 1] 1 23456"], output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries).Order());
    }

    [Theory]
    [InlineData(new[] { "--", "/bin/true" }, "--nproc-per-node")]
    [InlineData(new[] { "-n", "2" }, "command")]
    [InlineData(new[] { "-n", "0", "--", "/bin/true" }, "--nproc-per-node must be at least 1")]
    [InlineData(new[] { "-n", "1", "--nnodes", "2", "--", "/bin/true" }, "--master-addr is required with --nnodes > 1")]
    [InlineData(new[] { "-n", "1", "--nnodes", "2", "--node-rank", "2", "--master-addr", "10.0.0.1", "--", "/bin/true" }, "--node-rank must satisfy")]
    [InlineData(new[] { "-n", "1", "--master-port", "0", "--", "/bin/true" }, "--master-port must be a TCP port")]
    public void BadArgumentsAreReportedBeforeAnythingStarts(string[] arguments, string expected)
    {
        var parsed = LaunchCommand.Create().Parse(arguments);
        Assert.Contains(parsed.Errors, error => error.Message.Contains(expected, StringComparison.Ordinal));
    }
}

using System.CommandLine;
using System.CommandLine.Parsing;

namespace DeepEP.Cli.Launch;

/// <summary>
/// <c>deepep launch -n N [--nnodes M --node-rank K --master-addr A --master-port P] -- &lt;command&gt; [args...]</c>:
/// starts N ranks of a command on this node; see <see cref="RankLauncher"/>.
/// </summary>
public static class LaunchCommand
{
    /// <summary>Builds the <c>launch</c> command; its action returns the exit status of <see cref="RankLauncher.RunAsync"/>.</summary>
    public static Command Create()
    {
        var processesPerNode = new Option<int>("--nproc-per-node", "-n")
        {
            Description = "Ranks to start on this node, usually one per GPU.",
            Required = true,
        };
        // Nullable with the default applied in Read: command validators see no DefaultValueFactory values.
        var nodeCount = new Option<int?>("--nnodes")
        {
            Description = "Number of nodes, each running its own deepep launch (default 1).",
        };
        var nodeRank = new Option<int?>("--node-rank")
        {
            Description = "Index of this node, 0 ≤ node rank < nnodes (default 0); its ranks are node_rank × N + i.",
        };
        var masterAddress = new Option<string?>("--master-addr")
        {
            Description = "Address of node 0, where rank 0 listens (default 127.0.0.1; required with --nnodes > 1).",
        };
        var masterPort = new Option<int?>("--master-port")
        {
            Description = "TCP port rank 0 listens on (default: a free port on one node, 29500 across nodes).",
        };
        var command = new Argument<string[]>("command")
        {
            Description = "The program each rank runs and its arguments, after --.",
            Arity = ArgumentArity.OneOrMore,
        };
        var launch = new Command("launch",
            "Start N ranks of a command with RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR and MASTER_PORT set; " +
            "prefix their output with [rank i]; stop them all with its status as soon as one fails.")
        {
            processesPerNode, nodeCount, nodeRank, masterAddress, masterPort, command,
        };

        LaunchOptions Read(SymbolResult result) => new()
        {
            Command = result.GetValue(command) ?? [],
            ProcessesPerNode = result.GetValue(processesPerNode),
            NodeCount = result.GetValue(nodeCount) ?? 1,
            NodeRank = result.GetValue(nodeRank) ?? 0,
            MasterAddress = result.GetValue(masterAddress),
            MasterPort = result.GetValue(masterPort),
        };

        launch.Validators.Add(result =>
        {
            if (result.Errors.Any())
            {
                return; // a missing or unparsable value is already reported
            }
            if (Read(result).Validate() is { } problem)
            {
                result.AddError(problem);
            }
        });
        launch.SetAction((parseResult, cancellationToken) =>
        {
            var launcher = new RankLauncher(Read(parseResult.CommandResult),
                parseResult.InvocationConfiguration.Output, parseResult.InvocationConfiguration.Error);
            return launcher.RunAsync(cancellationToken);
        });
        return launch;
    }
}

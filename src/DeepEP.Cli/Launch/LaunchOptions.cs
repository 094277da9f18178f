using System.Net;

namespace DeepEP.Cli.Launch;

/// <summary>What <c>deepep launch</c> starts: the command and this node's place among the nodes.</summary>
public sealed record LaunchOptions
{
    /// <summary>The program every rank runs, then its arguments; at least the program.</summary>
    public required IReadOnlyList<string> Command { get; init; }

    /// <summary>Ranks started on this node (usually one per GPU), at least 1.</summary>
    public int ProcessesPerNode { get; init; } = 1;

    /// <summary>Number of nodes, each running its own launcher, at least 1.</summary>
    public int NodeCount { get; init; } = 1;

    /// <summary>Index of this node, 0 ≤ NodeRank &lt; <see cref="NodeCount"/>; its ranks are NodeRank × ProcessesPerNode + i.</summary>
    public int NodeRank { get; init; }

    /// <summary>Address of node 0, where rank 0 listens; null means 127.0.0.1, which needs a single node.</summary>
    public string? MasterAddress { get; init; }

    /// <summary>TCP port rank 0 listens on, 1–65535; null picks a free port on a single node and 29500 across nodes.</summary>
    public int? MasterPort { get; init; }

    /// <summary>
    /// Whether the first rank to exit with a non-zero status stops the others (the default, what <c>deepep launch</c>
    /// does). When false the others keep running and the launch ends when every rank has exited or it is cancelled:
    /// failure-handling tests use it to watch how the survivors react to a rank that died.
    /// </summary>
    public bool StopOnFailure { get; init; } = true;

    /// <summary>The first problem with these options, phrased for the command line, or null when they are valid.</summary>
    public string? Validate() =>
        Command.Count == 0 || string.IsNullOrWhiteSpace(Command[0]) ? "Give the command each rank runs after --, e.g. deepep launch -n 2 -- ./train."
        : ProcessesPerNode < 1 ? $"--nproc-per-node must be at least 1, got {ProcessesPerNode}."
        : NodeCount < 1 ? $"--nnodes must be at least 1, got {NodeCount}."
        : NodeRank < 0 || NodeRank >= NodeCount ? $"--node-rank must satisfy 0 ≤ node rank < --nnodes ({NodeCount}), got {NodeRank}."
        : MasterPort is < 1 or > 65535 ? $"--master-port must be a TCP port, 1–65535, got {MasterPort}."
        : NodeCount > 1 && MasterAddress is null ? "--master-addr is required with --nnodes > 1: the address of node 0 that every node can reach."
        : MasterAddress is not null && Uri.CheckHostName(MasterAddress) == UriHostNameType.Unknown && !IPAddress.TryParse(MasterAddress, out _)
            ? $"--master-addr '{MasterAddress}' is not a host name or IP address."
        : null;
}

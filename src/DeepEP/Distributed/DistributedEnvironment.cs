using System.Globalization;

using DeepEP.Configuration;

namespace DeepEP.Distributed;

/// <summary>
/// This rank's place in a multi-process group, as <c>deepep launch</c> and torchrun describe it in the environment:
/// RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT and, where the launcher sets them,
/// NODE_RANK and NNODES.
/// </summary>
public sealed record DistributedEnvironment
{
    /// <summary>MASTER_ADDR when unset: this host's loopback address.</summary>
    public const string DefaultMasterAddress = "127.0.0.1";

    /// <summary>MASTER_PORT when unset, as in torchrun.</summary>
    public const int DefaultMasterPort = 29500;

    /// <summary>Creates a description, checking every value.</summary>
    /// <param name="rank">This rank, 0 ≤ rank &lt; worldSize.</param>
    /// <param name="worldSize">Number of ranks in the group, at least 1.</param>
    /// <param name="localRank">Rank within this host, 0 ≤ localRank &lt; localWorldSize.</param>
    /// <param name="localWorldSize">Ranks on this host, 1 ≤ localWorldSize ≤ worldSize.</param>
    /// <param name="masterAddress">Host name or IP address of rank 0, where it listens.</param>
    /// <param name="masterPort">TCP port rank 0 listens on, 1–65535.</param>
    /// <param name="nodeRank">Index of this host, 0 ≤ nodeRank &lt; nodeCount.</param>
    /// <param name="nodeCount">Number of hosts, at least 1.</param>
    /// <exception cref="ArgumentException">A value is out of range.</exception>
    public DistributedEnvironment(int rank, int worldSize, int localRank, int localWorldSize,
        string masterAddress = DefaultMasterAddress, int masterPort = DefaultMasterPort, int nodeRank = 0, int nodeCount = 1)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(worldSize);
        ArgumentOutOfRangeException.ThrowIfNegative(rank);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(rank, worldSize);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(localWorldSize);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(localWorldSize, worldSize);
        ArgumentOutOfRangeException.ThrowIfNegative(localRank);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(localRank, localWorldSize);
        ArgumentException.ThrowIfNullOrWhiteSpace(masterAddress);
        ArgumentOutOfRangeException.ThrowIfLessThan(masterPort, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(masterPort, 65535);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(nodeCount);
        ArgumentOutOfRangeException.ThrowIfNegative(nodeRank);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(nodeRank, nodeCount);
        Rank = rank;
        WorldSize = worldSize;
        LocalRank = localRank;
        LocalWorldSize = localWorldSize;
        MasterAddress = masterAddress;
        MasterPort = masterPort;
        NodeRank = nodeRank;
        NodeCount = nodeCount;
    }

    /// <summary>The variables this record reads, in the order they are checked.</summary>
    public static IReadOnlyList<string> VariableNames { get; } =
        ["RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT", "NODE_RANK", "NNODES"];

    /// <summary>This rank (RANK), 0 ≤ Rank &lt; <see cref="WorldSize"/>.</summary>
    public int Rank { get; }

    /// <summary>Number of ranks (WORLD_SIZE).</summary>
    public int WorldSize { get; }

    /// <summary>Rank within this host (LOCAL_RANK): the GPU this rank uses by default.</summary>
    public int LocalRank { get; }

    /// <summary>Ranks on this host (LOCAL_WORLD_SIZE).</summary>
    public int LocalWorldSize { get; }

    /// <summary>Host name or IP address of rank 0 (MASTER_ADDR).</summary>
    public string MasterAddress { get; }

    /// <summary>TCP port rank 0 listens on (MASTER_PORT).</summary>
    public int MasterPort { get; }

    /// <summary>Index of this host (NODE_RANK).</summary>
    public int NodeRank { get; }

    /// <summary>Number of hosts (NNODES).</summary>
    public int NodeCount { get; }

    /// <summary>Reads this process's environment; see <see cref="FromVariables"/>.</summary>
    /// <exception cref="InvalidOperationException">A variable is missing or invalid; the message names it and the fix.</exception>
    public static DistributedEnvironment FromProcess() =>
        FromVariables(EnvironmentKnobs.FromProcess(VariableNames).Select(VariableNames));

    /// <summary>
    /// Reads the description from <paramref name="variables"/> (names as torchrun sets them). RANK and WORLD_SIZE
    /// are required. Without LOCAL_RANK and LOCAL_WORLD_SIZE every rank is taken to be on this host; MASTER_ADDR
    /// defaults to <see cref="DefaultMasterAddress"/>, MASTER_PORT to <see cref="DefaultMasterPort"/>, NNODES to
    /// WORLD_SIZE / LOCAL_WORLD_SIZE and NODE_RANK to RANK / LOCAL_WORLD_SIZE. Empty values count as unset.
    /// </summary>
    /// <param name="variables">Variable name → value; missing names and null values count as unset.</param>
    /// <exception cref="InvalidOperationException">A variable is missing or invalid; the message names it and the fix.</exception>
    public static DistributedEnvironment FromVariables(IReadOnlyDictionary<string, string?> variables)
    {
        ArgumentNullException.ThrowIfNull(variables);
        const string launchHint = "start every rank with `deepep launch -n <ranks> -- <command>` or torchrun, which set RANK, " +
            "WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR and MASTER_PORT";

        int worldSize = ReadInt(variables, "WORLD_SIZE", null, 1, int.MaxValue, $"the number of ranks (at least 1); {launchHint}");
        int rank = ReadInt(variables, "RANK", null, 0, worldSize - 1, $"this process's rank, 0 ≤ RANK < WORLD_SIZE={worldSize}; {launchHint}");
        int localWorldSize = ReadInt(variables, "LOCAL_WORLD_SIZE", worldSize, 1, worldSize,
            $"the number of ranks on this host, 1 ≤ LOCAL_WORLD_SIZE ≤ WORLD_SIZE={worldSize}");
        int localRank = ReadInt(variables, "LOCAL_RANK", rank, 0, localWorldSize - 1,
            $"this process's rank on its host, 0 ≤ LOCAL_RANK < LOCAL_WORLD_SIZE={localWorldSize}");
        string masterAddress = Read(variables, "MASTER_ADDR") ?? DefaultMasterAddress;
        int masterPort = ReadInt(variables, "MASTER_PORT", DefaultMasterPort, 1, 65535,
            "the TCP port rank 0 listens on (1–65535), the same for every rank");
        int nodeCount = ReadInt(variables, "NNODES", Math.Max(1, worldSize / localWorldSize), 1, worldSize,
            $"the number of hosts, 1 ≤ NNODES ≤ WORLD_SIZE={worldSize}");
        int nodeRank = ReadInt(variables, "NODE_RANK", Math.Min(rank / localWorldSize, nodeCount - 1), 0, nodeCount - 1,
            $"this host's index, 0 ≤ NODE_RANK < NNODES={nodeCount}");
        return new DistributedEnvironment(rank, worldSize, localRank, localWorldSize, masterAddress, masterPort, nodeRank, nodeCount);
    }

    private static string? Read(IReadOnlyDictionary<string, string?> variables, string name) =>
        variables.TryGetValue(name, out string? value) && !string.IsNullOrWhiteSpace(value) ? value.Trim() : null;

    private static int ReadInt(IReadOnlyDictionary<string, string?> variables, string name, int? fallback, int min, int max, string meaning)
    {
        string? text = Read(variables, name);
        if (text is null)
        {
            return fallback ?? throw new InvalidOperationException($"{name} is not set: set it to {meaning}.");
        }
        if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int value))
        {
            throw new InvalidOperationException($"{name}='{text}' is not a non-negative integer: set it to {meaning}.");
        }
        if (value < min || value > max)
        {
            throw new InvalidOperationException($"{name}={value} is out of range: set it to {meaning}.");
        }
        return value;
    }
}

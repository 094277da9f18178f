using System.CommandLine;
using DeepEP.Backends;
using DeepEP.Cli.Soak;
using DeepEP.Cuda;
using DeepEP.Distributed;
using DeepEP.Ep;
using Spectre.Console;

namespace DeepEP.Cli.Commands;

/// <summary><c>deepep soak</c>: many normal and low-latency iterations, every result checked, memory watched after warm-up.</summary>
internal static class SoakCommand
{
    // A small shape: the soak looks for failures and leaks over many calls, not for bandwidth.
    private const int Tokens = 16;
    private const int Hidden = 256;
    private const int ExpertsPerRank = 2;
    private const int Topk = 2;
    private const double MaxMemoryGrowth = 0.05;

    public static Command Create()
    {
        var iterations = new Option<int>("--iterations") { Description = "Iterations per rank (each runs every operation of --mode once).", DefaultValueFactory = _ => 1000 };
        var ranks = new Option<int?>("--ranks") { Description = "Ranks: default every visible GPU, or 2 simulated host ranks." };
        var backend = new Option<EpBackendKind?>("--backend") { Description = "kernels, nccl or host (default: DEEPEP_BACKEND, else kernels with a GPU and host without)." };
        var mode = new Option<SoakMode>("--mode") { Description = "both, normal or lowlatency.", DefaultValueFactory = _ => SoakMode.Both };
        var command = new Command("soak", "Run many normal and low-latency iterations, checking every result and watching memory after warm-up.")
        {
            iterations, ranks, backend, mode,
        };
        command.Validators.Add(result =>
        {
            if (result.GetValue(iterations) < 1)
            {
                result.AddError("--iterations must be at least 1.");
            }
            if (result.GetValue(ranks) is < 1)
            {
                result.AddError("--ranks must be at least 1.");
            }
        });
        command.SetAction(parse =>
        {
            EpBackendKind kind = BackendFactory.Resolve(new EpBufferOptions { Backend = parse.GetValue(backend) });
            // Started by `deepep launch` (or torchrun): this process is one rank of the group those variables describe.
            using ProcessGroup? group = EpEnvironment.Current.DistributedVariables["RANK"] is null ? null : ProcessGroup.FromEnvironment();
            int numRanks = group?.Size ?? parse.GetValue(ranks) ?? (kind == EpBackendKind.Host ? 2 : CudaDevice.Count);
            int count = parse.GetValue(iterations);
            var settings = new SoakSettings(count, numRanks, kind, parse.GetValue(mode), Tokens, Hidden, ExpertsPerRank * numRanks, Topk,
                WarmupIterations: Math.Clamp(count / 10, 1, 100), MaxMemoryGrowth);
            IAnsiConsole console = AnsiConsole.Console;
            if (Console.IsOutputRedirected)
            {
                // Logs and CI capture the table: don't wrap it at the 80 columns Spectre assumes without a terminal.
                console.Profile.Width = 200;
            }
            console.MarkupLine($"[bold]deepep soak[/] backend [green]{kind.ToString().ToLowerInvariant()}[/], {numRanks} ranks, mode {settings.Mode.ToString().ToLowerInvariant()}, "
                + $"{count} iterations of {Tokens} tokens, hidden {Hidden}, top-{Topk} of {settings.Experts} experts");
            SoakResult[] results = console.Progress().Start(ctx =>
            {
                ProgressTask task = ctx.AddTask("iterations", maxValue: count);
                Action<int>? progress = group is null || group.Rank == 0 ? done => task.Value = done : null;
                return group is null ? SoakRunner.Run(settings, progress) : SoakRunner.RunAsProcess(group, settings, progress);
            });
            if (group is null || group.Rank == 0 || results.Length == 1)
            {
                SoakReport.Print(console, settings, results);
            }
            return SoakReport.Passed(settings, results) ? 0 : 1;
        });
        return command;
    }
}

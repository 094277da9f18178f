using System.CommandLine;
using DeepEP.Backends;
using DeepEP.Cli.Bench;
using DeepEP.Cuda;
using DeepEP.Distributed;
using DeepEP.Ep;
using Spectre.Console;

namespace DeepEP.Cli.Commands;

/// <summary><c>deepep bench</c>: measures dispatch and combine on every visible GPU, or on simulated host ranks without one.</summary>
internal static class BenchCommand
{
    /// <summary>Host-backend shapes are smaller by default: the CPU reference is a correctness oracle, not a fast path.</summary>
    private const int HostTokens = 512;
    private const int HostLowLatencyTokens = 32;
    private const int HostHidden = 2048;
    private const int HostRanks = 4;

    public static Command Create()
    {
        var mode = new Option<BenchMode>("--mode") { Description = "all, normal or lowlatency.", DefaultValueFactory = _ => BenchMode.All };
        var backend = new Option<EpBackendKind?>("--backend") { Description = "kernels, nccl or host (default: DEEPEP_BACKEND, else kernels with a GPU and host without)." };
        var ranks = new Option<int?>("--ranks") { Description = "Ranks: default every visible GPU, or 4 simulated host ranks." };
        var tokens = new Option<int?>("--tokens") { Description = "Normal-mode tokens per rank (default 4096 on GPUs, 512 on the host)." };
        var llTokens = new Option<int?>("--ll-tokens") { Description = "Low-latency tokens per rank (default 128 on GPUs, 32 on the host)." };
        var hidden = new Option<int?>("--hidden") { Description = "Hidden size (default 7168 on GPUs, 2048 on the host)." };
        var topk = new Option<int>("--topk") { Description = "Experts per token.", DefaultValueFactory = _ => 8 };
        var experts = new Option<int>("--experts") { Description = "Experts in normal mode.", DefaultValueFactory = _ => 256 };
        var llExperts = new Option<int>("--ll-experts") { Description = "Experts in low-latency mode.", DefaultValueFactory = _ => 288 };
        var sms = new Option<int?>("--num-sms") { Description = "SMs per rank for normal-mode kernels (even; default 24, or an even share of the GPU when ranks share one)." };
        var warmups = new Option<int?>("--warmups") { Description = "Untimed calls per operation (default 10 on GPUs, 2 on the host)." };
        var iterations = new Option<int?>("--iterations") { Description = "Timed calls per operation (default 50 on GPUs, as upstream; 5 on the host)." };
        var seed = new Option<int>("--seed") { Description = "Seed of the random inputs.", DefaultValueFactory = _ => 0 };
        var json = new Option<FileInfo?>("--json") { Description = "Also write the results as JSON to this file." };
        var sweep = new Option<bool>("--sweep") { Description = "Sweep tokens per rank (powers of two): 256 to 16384 in normal mode, 1 to 256 with --mode lowlatency." };
        var plot = new Option<FileInfo?>("--plot") { Description = "With --sweep: draw GB/s against tokens per rank into this PNG." };
        var compare = new Option<EpBackendKind?>("--compare")
        {
            Description = "Also run normal mode on this backend with the same inputs and print both side by side with the time ratio (e.g. --compare nccl).",
        };

        var command = new Command("bench", "Measure dispatch and combine, checking every result against the reference.")
        {
            mode, backend, ranks, tokens, llTokens, hidden, topk, experts, llExperts, sms, warmups, iterations, seed, json, sweep, plot, compare,
        };
        command.SetAction(parse =>
        {
            EpBackendKind kind = BackendFactory.Resolve(new EpBufferOptions { Backend = parse.GetValue(backend) });
            EpBackendKind? other = parse.GetValue(compare);
            bool host = kind == EpBackendKind.Host;
            BenchMode benchMode = parse.GetValue(mode);
            if (other is not null)
            {
                // A comparison covers normal mode.
                benchMode = BenchMode.Normal;
            }
            // Started by `deepep launch` (or torchrun): this process is one rank of the group those variables describe.
            using ProcessGroup? group = EpEnvironment.Current.DistributedVariables["RANK"] is null ? null : ProcessGroup.FromEnvironment();
            int rankCount = group?.Size ?? parse.GetValue(ranks) ?? (host ? HostRanks : CudaDevice.Count);
            // Ranks land on GPU LOCAL_RANK % count (processes) or rank % count (threads); a shared GPU splits its SMs.
            int ranksOnHost = group?.LocalSize ?? rankCount;
            var settings = new BenchSettings(
                benchMode,
                rankCount,
                kind,
                parse.GetValue(tokens) ?? (host ? HostTokens : 4096),
                parse.GetValue(llTokens) ?? (host ? HostLowLatencyTokens : 128),
                parse.GetValue(hidden) ?? (host ? HostHidden : 7168),
                parse.GetValue(topk),
                parse.GetValue(experts),
                parse.GetValue(llExperts),
                parse.GetValue(sms) ?? (host ? RankPlacement.DefaultSms : RankPlacement.Sms(ranksOnHost, CudaDevice.Count, CudaDevice.Get(0).MultiprocessorCount)),
                parse.GetValue(warmups) ?? (host ? 2 : 10),
                parse.GetValue(iterations) ?? (host ? 5 : 50),
                parse.GetValue(seed));
            IAnsiConsole console = AnsiConsole.Console;
            if (Console.IsOutputRedirected)
            {
                // Logs and CI capture the table: don't wrap it at the 80 columns Spectre assumes without a terminal.
                console.Profile.Width = 200;
            }
            if (host && !CudaDevice.IsAvailable && group is null)
            {
                console.MarkupLine($"[yellow]No GPU visible: running the CPU reference backend with {settings.Ranks} simulated ranks.[/]");
            }
            if (!host && (group?.Rank ?? 0) == 0)
            {
                console.MarkupLine($"Ranks on GPUs: {Markup.Escape(string.Join("; ", RankPlacement.Describe(ranksOnHost, CudaDevice.Count)))}");
                if (RankPlacement.SharedGpuCaveat(ranksOnHost, CudaDevice.Count) is { } caveat)
                {
                    console.MarkupLine($"[yellow]{Markup.Escape(caveat)}[/]");
                }
            }
            if (group is not null)
            {
                IReadOnlyList<BenchResult> merged = BenchRunner.RunAsProcess(group, settings);
                IReadOnlyList<BenchResult>? compared = other is { } otherKind ? BenchRunner.RunAsProcess(group, settings with { Backend = otherKind }) : null;
                if (group.Rank == 0)
                {
                    BenchReport.Print(console, settings, merged);
                    if (compared is not null)
                    {
                        BenchComparison.Print(console, merged, compared);
                    }
                }
                return merged.Concat(compared ?? []).All(r => r.Correct) ? 0 : 1;
            }
            if (parse.GetValue(sweep))
            {
                return RunSweep(console, settings, parse.GetValue(json), parse.GetValue(plot));
            }
            IReadOnlyList<BenchResult> results = console.Status().Start("running", ctx =>
                BenchRunner.Run(settings, step => ctx.Status($"running {step}")));
            BenchReport.Print(console, settings, results);
            if (other is { } comparedKind)
            {
                BenchSettings otherSettings = settings with { Backend = comparedKind };
                IReadOnlyList<BenchResult> compared = console.Status().Start("running", ctx =>
                    BenchRunner.Run(otherSettings, step => ctx.Status($"running {comparedKind.ToString().ToLowerInvariant()}: {step}")));
                BenchComparison.Print(console, results, compared);
                results = [.. results, .. compared];
            }
            if (parse.GetValue(json) is { } file)
            {
                BenchReport.WriteJson(file.FullName, settings, results);
                console.MarkupLine($"Wrote [blue]{Markup.Escape(file.FullName)}[/].");
            }
            return results.All(r => r.Correct) ? 0 : 1;
        });
        return command;
    }

    /// <summary>
    /// Sweep token counts per rank, print each table, then write JSON and the plot: 256 to 16384 in normal mode, or
    /// 1 to 256 with <c>--mode lowlatency</c> (N = T, as upstream's test).
    /// </summary>
    private static int RunSweep(IAnsiConsole console, BenchSettings settings, FileInfo? json, FileInfo? plot)
    {
        bool lowLatency = settings.Mode == BenchMode.LowLatency;
        var points = new List<(int Tokens, IReadOnlyList<BenchResult> Results)>();
        for (int tokens = lowLatency ? 1 : 256; tokens <= (lowLatency ? 256 : 16384); tokens *= 2)
        {
            BenchSettings point = lowLatency ? settings with { LowLatencyTokens = tokens } : settings with { Mode = BenchMode.Normal, Tokens = tokens };
            IReadOnlyList<BenchResult> results = console.Status().Start($"running {tokens} tokens per rank", _ => BenchRunner.Run(point));
            BenchReport.Print(console, point, results);
            points.Add((tokens, results));
        }
        if (json is not null)
        {
            BenchReport.WriteSweepJson(json.FullName, settings, points);
            console.MarkupLine($"Wrote [blue]{Markup.Escape(json.FullName)}[/].");
        }
        if (plot is not null)
        {
            string engine = settings.Backend == EpBackendKind.Host ? "CPU reference" : lowLatency ? "all SMs" : $"{settings.NumSms} SMs";
            SweepPlot.Save(plot.FullName, $"deepep bench --sweep: {settings.Backend.ToString().ToLowerInvariant()}, {settings.Ranks} ranks, hidden {settings.Hidden}, {engine}", points);
            console.MarkupLine($"Wrote [blue]{Markup.Escape(plot.FullName)}[/].");
        }
        return points.All(p => p.Results.All(r => r.Correct)) ? 0 : 1;
    }
}

using System.CommandLine;
using DeepEP.Cli.Bench;
using DeepEP.Cli.Bench.Fused;
using DeepEP.Cuda;
using DeepEP.Distributed;
using DeepEP.Ep;
using DeepEP.Runtimes;
using Spectre.Console;

namespace DeepEP.Cli.Commands;

/// <summary><c>deepep bench</c>: measures dispatch and combine on every visible GPU, or on simulated host ranks without one.</summary>
internal static class BenchCommand
{
    public static Command Create()
    {
        var options = new BenchOptions();
        var command = new Command("bench", "Measure dispatch and combine, checking every result against the reference.");
        foreach (Option option in options.All)
        {
            command.Options.Add(option);
        }
        command.SetAction(parse =>
        {
            BenchBackendChoice backend = BenchBackendChoice.Resolve(parse.GetValue(options.Backend));
            EpBackendKind? other = parse.GetValue(options.Compare);
            bool host = backend.Kind == EpBackendKind.Host;
            // Started by `deepep launch` (or torchrun): this process is one rank of the group those variables describe.
            using ProcessGroup? group = EpEnvironment.Current.DistributedVariables["RANK"] is null ? null : ProcessGroup.FromEnvironment();
            BenchSettings settings = options.Read(parse, backend, group?.Size, group?.LocalSize);
            // Before any kernel compiles: the timers are a compile-time define.
            PhaseTrace.Enabled = parse.GetValue(options.Phases);
            // Ranks land on GPU LOCAL_RANK % count (processes) or rank % count (threads); a shared GPU splits its SMs.
            int ranksOnHost = group?.LocalSize ?? settings.Ranks;
            IAnsiConsole console = AnsiConsole.Console;
            if (Console.IsOutputRedirected)
            {
                // Logs and CI capture the table: lay it out for 100 columns, not the 80 Spectre assumes without a terminal.
                console.Profile.Width = 100;
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
            if (settings.Mode == BenchMode.Fused)
            {
                int fusedCode = RunFused(console, settings, group, parse.GetValue(options.Json));
                PrintPhases(console, group);
                return fusedCode;
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
                PrintPhases(console, group);
                return merged.Concat(compared ?? []).All(r => r.Correct) ? 0 : 1;
            }
            if (parse.GetValue(options.Sweep))
            {
                return RunSweep(console, settings, parse.GetValue(options.Json), parse.GetValue(options.Plot));
            }
            IReadOnlyList<BenchResult> results = console.Status().Start("running", ctx =>
                BenchRunner.Run(settings, step => ctx.Status($"running {step}")));
            BenchReport.Print(console, settings, results);
            PrintPhases(console, group: null);
            if (other is { } comparedKind)
            {
                BenchSettings otherSettings = settings with { Backend = comparedKind };
                IReadOnlyList<BenchResult> compared = console.Status().Start("running", ctx =>
                    BenchRunner.Run(otherSettings, step => ctx.Status($"running {comparedKind.ToString().ToLowerInvariant()}: {step}")));
                BenchComparison.Print(console, results, compared);
                results = [.. results, .. compared];
            }
            if (parse.GetValue(options.Json) is { } file)
            {
                BenchReport.WriteJson(file.FullName, settings, results);
                console.MarkupLine($"Wrote [blue]{Markup.Escape(file.FullName)}[/].");
            }
            return results.All(r => r.Correct) ? 0 : 1;
        });
        return command;
    }

    /// <summary>With <c>--phases</c>: rank 0's table of the traced kernels (each process reads its own modules).</summary>
    private static void PrintPhases(IAnsiConsole console, ProcessGroup? group)
    {
        if (PhaseTrace.Enabled && (group?.Rank ?? 0) == 0)
        {
            console.Write(PhaseReport.Create(PhaseTrace.Read()));
        }
    }

    /// <summary>
    /// <c>--mode fused</c>: the fused layer on every rank (threads, or this process's rank of a launched group), then on
    /// a GPU backend the grouped GEMMs alone; rank 0 prints the tables and writes the JSON.
    /// </summary>
    private static int RunFused(IAnsiConsole console, BenchSettings settings, ProcessGroup? group, FileInfo? json)
    {
        (IReadOnlyList<FusedResult> layer, IReadOnlyList<FusedResult> gemms) = group is not null
            ? BenchRunner.RunFusedAsProcess(group, settings)
            : console.Status().Start("running", ctx => BenchRunner.RunFused(settings, step => ctx.Status($"running {step}")));
        if ((group?.Rank ?? 0) == 0)
        {
            FusedReport.Print(console, settings, layer, gemms, Math.Min(settings.CheckTokens, settings.LowLatencyTokens));
            if (json is not null)
            {
                FusedReport.WriteJson(json.FullName, settings, layer, gemms);
                console.MarkupLine($"Wrote [blue]{Markup.Escape(json.FullName)}[/].");
            }
        }
        return layer.All(r => r.Correct) ? 0 : 1;
    }

    /// <summary>
    /// Sweep token counts per rank under a progress bar, print one summary table, then write JSON and the plot: 256 to
    /// 16384 in normal mode, or 1 to 256 with <c>--mode lowlatency</c> (N = T, as upstream's test).
    /// </summary>
    private static int RunSweep(IAnsiConsole console, BenchSettings settings, FileInfo? json, FileInfo? plot)
    {
        bool lowLatency = settings.Mode == BenchMode.LowLatency;
        int[] counts = [.. Enumerable.Range(0, lowLatency ? 9 : 7).Select(i => (lowLatency ? 1 : 256) << i)];
        var points = new List<(int Tokens, IReadOnlyList<BenchResult> Results)>();
        console.Progress().Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new RemainingTimeColumn()).Start(progress =>
        {
            ProgressTask task = progress.AddTask("sweep", maxValue: counts.Length);
            foreach (int tokens in counts)
            {
                task.Description = $"{tokens} tokens per rank";
                BenchSettings point = lowLatency ? settings with { LowLatencyTokens = tokens } : settings with { Mode = BenchMode.Normal, Tokens = tokens };
                points.Add((tokens, BenchRunner.Run(point)));
                task.Increment(1);
            }
            task.Description = $"{counts.Length} token counts";
        });
        console.MarkupLine($"[bold]deepep bench --sweep[/] backend [green]{BenchBackendChoice.Name(settings.Backend)}[/], {settings.Ranks} ranks, hidden {settings.Hidden}, " +
            $"top-{settings.Topk} of {(lowLatency ? settings.LowLatencyExperts : settings.Experts)} experts, {(lowLatency ? "low-latency" : "normal")} mode");
        console.Write(SweepSummary.Create(points));
        if (BenchReport.NoiseWarning(settings, [.. points.SelectMany(p => p.Results)]) is { } warning)
        {
            console.MarkupLine($"[yellow]{Markup.Escape(warning)}[/]");
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

using System.CommandLine;
using System.Globalization;
using DeepEP.Cli.Bench;
using DeepEP.Cuda;
using DeepEP.Ep;
using DeepEP.Ep.Heuristics;
using Spectre.Console;

namespace DeepEP.Cli.Commands;

/// <summary>
/// <c>deepep tune</c>: measures normal-mode dispatch and combine at several SM counts and saves the fastest count
/// (dispatch BF16 plus combine time) where <see cref="EpBuffer.GetDispatchConfig"/> finds it. Our kernels have no
/// ring buffers, so the chunk sizes upstream tunes do not exist here; the SM count is the one knob.
/// </summary>
internal static class TuneCommand
{
    public static Command Create()
    {
        var tokens = new Option<int>("--tokens") { Description = "Tokens per rank.", DefaultValueFactory = _ => 4096 };
        var hidden = new Option<int>("--hidden") { Description = "Hidden size.", DefaultValueFactory = _ => 7168 };
        var topk = new Option<int>("--topk") { Description = "Experts per token.", DefaultValueFactory = _ => 8 };
        var experts = new Option<int>("--experts") { Description = "Experts.", DefaultValueFactory = _ => 256 };
        var sms = new Option<string>("--sms") { Description = "Comma-separated even SM counts to try.", DefaultValueFactory = _ => "8,16,24,32,48,64" };
        var maxSms = new Option<int>("--max-sms") { Description = "Largest SM count that may be saved (leave the rest to the model).", DefaultValueFactory = _ => 24 };
        var save = new Option<bool>("--save") { Description = "Save the best count to the tuned-configs file.", DefaultValueFactory = _ => true };
        var command = new Command("tune", "Find the fastest SM count for normal-mode dispatch and combine on these GPUs and save it.")
        {
            tokens, hidden, topk, experts, sms, maxSms, save,
        };
        command.SetAction(parse =>
        {
            IAnsiConsole console = AnsiConsole.Console;
            string smsText = parse.GetValue(sms)!;
            int[] candidates = smsText.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Select(v => int.TryParse(v, CultureInfo.InvariantCulture, out int count) ? count : -1).ToArray();
            CliUsageException.ThrowIf(candidates.Length == 0 || candidates.Any(c => c <= 0 || c % 2 != 0)
                ? $"--sms {smsText} is not valid: give positive even SM counts separated by commas, e.g. 8,16,24."
                : null);
            CliUsageException.ThrowIf(CudaDevice.UnavailableReason is { } noGpu ? $"tune measures GPUs and none is usable here: {noGpu}"
                : CudaDevice.Count < 2 ? $"tune needs at least two GPUs with peer access; {CudaDevice.Count} is visible."
                : null);
            var table = new Table().Border(TableBorder.Rounded).AddColumns("SMs", "dispatch FP8 µs", "dispatch BF16 µs", "combine µs", "BF16 dispatch + combine µs");
            var scores = new List<(int Sms, double Score)>();
            foreach (int count in candidates)
            {
                var settings = new BenchSettings(BenchMode.Normal, CudaDevice.Count, EpBackendKind.Kernels, parse.GetValue(tokens), 1, parse.GetValue(hidden),
                    parse.GetValue(topk), parse.GetValue(experts), parse.GetValue(experts), count, Warmups: 5, Iterations: 20, Seed: 0);
                IReadOnlyList<BenchResult> results = console.Status().Start($"measuring {count} SMs", _ => BenchRunner.Run(settings));
                if (results.Any(r => !r.Correct))
                {
                    console.MarkupLine($"[red]{count} SMs gave a wrong result: {Markup.Escape(results.First(r => !r.Correct).Check)}[/]");
                    return 1;
                }
                double Time(string operation) => results.First(r => r.Operation == operation).MeanMicroseconds;
                double score = Time("dispatch BF16") + Time("combine BF16");
                scores.Add((count, score));
                table.AddRow(count.ToString(CultureInfo.InvariantCulture), F(Time("dispatch FP8")), F(Time("dispatch BF16")), F(Time("combine BF16")), F(score));
            }
            console.Write(table);
            (int best, double bestScore) = scores.Where(s => s.Sms <= parse.GetValue(maxSms)).DefaultIfEmpty(scores.MinBy(s => s.Sms)).MinBy(s => s.Score);
            console.MarkupLine($"Fastest within {parse.GetValue(maxSms)} SMs: [green]{best}[/] ({F(bestScore)} µs for BF16 dispatch + combine).");
            if (parse.GetValue(save))
            {
                string gpu = CudaDevice.Get(0).Name;
                TunedConfigs.Save(gpu, CudaDevice.Count, best, $"{parse.GetValue(tokens)} tokens/rank, hidden {parse.GetValue(hidden)}, top-{parse.GetValue(topk)} of {parse.GetValue(experts)}");
                console.MarkupLine($"Saved for {Markup.Escape(gpu)} × {CudaDevice.Count} in [blue]{Markup.Escape(TunedConfigs.FilePath)}[/]; EpBuffer.GetDispatchConfig uses it.");
            }
            return 0;
        });
        return command;
    }

    private static string F(double microseconds) => microseconds.ToString("F1", CultureInfo.InvariantCulture);
}

using System.CommandLine;
using DeepEP.Cli.Bench;
using DeepEP.Cuda;
using DeepEP.Ep;

namespace DeepEP.Cli.Commands;

/// <summary>
/// The options of <c>deepep bench</c> and how they become <see cref="BenchSettings"/>: defaults for GPUs or the host,
/// then every value checked before anything runs (<see cref="CliUsageException"/> names the option, value and range).
/// </summary>
internal sealed class BenchOptions
{
    /// <summary>Host-backend shapes are smaller by default: the CPU reference is a correctness oracle, not a fast path.</summary>
    private const int HostTokens = 512;
    private const int HostLowLatencyTokens = 32;
    private const int HostHidden = 2048;
    private const int HostRanks = 4;

    /// <summary>Fused mode on the host: tiny shapes, so the CPU reference finishes in seconds.</summary>
    private const int HostFusedHidden = 512;
    private const int HostFusedTokens = 8;
    private const int HostFusedIntermediate = 256;
    private const int HostFusedLocalExperts = 4;


    public Option<BenchMode> Mode { get; } = new("--mode") { Description = "all (normal and low-latency), normal, lowlatency, or fused (the fused MoE layer and its grouped GEMMs; not part of all).", DefaultValueFactory = _ => BenchMode.All };
    public Option<EpBackendKind?> Backend { get; } = new("--backend") { Description = "kernels, nccl or host (default: DEEPEP_BACKEND, else kernels with a GPU and host without)." };
    public Option<int?> Ranks { get; } = new("--ranks") { Description = $"Ranks, 1 to {BenchSettings.MaxRanks} (default: every visible GPU, or 4 simulated host ranks; more ranks than GPUs share them)." };
    public Option<int?> Tokens { get; } = new("--tokens") { Description = "Normal-mode tokens per rank (default 4096 on GPUs, 512 on the host)." };
    public Option<int?> LowLatencyTokens { get; } = new("--ll-tokens") { Description = "Low-latency tokens per rank (default 128 on GPUs, 32 on the host)." };
    public Option<int?> Hidden { get; } = new("--hidden") { Description = "Hidden size, a multiple of 128 (default 7168 on GPUs, 2048 on the host)." };
    public Option<int> Topk { get; } = new("--topk") { Description = "Experts per token.", DefaultValueFactory = _ => 8 };
    public Option<int?> Experts { get; } = new("--experts") { Description = "Experts in normal mode, a multiple of the ranks (default 256 rounded down to one, as upstream's test)." };
    public Option<int?> LowLatencyExperts { get; } = new("--ll-experts") { Description = "Experts in low-latency mode, a multiple of the ranks (default 288 rounded down to one)." };
    public Option<int?> Sms { get; } = new("--num-sms") { Description = $"SMs per rank for normal-mode kernels, even (default {RankPlacement.DefaultSms}, or an even share of the GPU when ranks share one; GPU backends only)." };
    public Option<int?> Warmups { get; } = new("--warmups") { Description = "Untimed calls per operation (default 10 on GPUs, 2 on the host)." };
    public Option<int?> Iterations { get; } = new("--iterations") { Description = "Timed calls per operation (default 50 on GPUs, as upstream; 5 on the host)." };
    public Option<int> Seed { get; } = new("--seed") { Description = "Seed of the random inputs.", DefaultValueFactory = _ => 0 };
    public Option<FileInfo?> Json { get; } = new("--json") { Description = "Also write the results as JSON to this file." };
    public Option<bool> Sweep { get; } = new("--sweep") { Description = "Sweep tokens per rank (powers of two): 256 to 16384 in normal mode, 1 to 256 with --mode lowlatency." };
    public Option<FileInfo?> Plot { get; } = new("--plot") { Description = "With --sweep: draw GB/s against tokens per rank into this PNG." };
    public Option<int?> Intermediate { get; } = new("--intermediate") { Description = "Fused mode: each expert's intermediate size I, a multiple of 128 (default 2048 on GPUs, 256 on the host)." };
    public Option<int?> LocalExperts { get; } = new("--local-experts") { Description = "Fused mode: experts per rank (default 32 on GPUs, as DeepSeek-V3 on 8 ranks; 4 on the host)." };
    public Option<MoeQuantMode[]> Quant { get; } = new("--quant")
    {
        Description = "Fused mode: the weight formats to run, any of none (BF16), int8, fp8 (default all three).",
        AllowMultipleArgumentsPerToken = true,
    };
    public Option<int?> CheckTokens { get; } = new("--check-tokens") { Description = "Fused mode on a GPU backend: tokens per rank checked against the host backend (default 8; the CPU reference is slow at full shapes)." };
    public Option<DirectoryInfo?> Dump { get; } = new("--dump")
    {
        Description = "Fused mode: write each quant mode's inputs, weights and outputs to this folder (one subfolder per mode), for scripts/fused_moe_torch.py reference.",
    };
    public Option<bool> Phases { get; } = new("--phases")
    {
        Description = "GPU backends: build the communication kernels with per-phase timers and print the mean µs each block spends in each phase " +
            "(send, arrive, wait, select, copy, reduce, barrier, publish). The timers synchronise each block at every boundary, so timed figures run slightly slower.",
    };
    public Option<EpBackendKind?> Compare { get; } = new("--compare")
    {
        Description = "Also run normal mode on this backend with the same inputs and print both side by side with the time ratio (e.g. --compare nccl).",
    };

    /// <summary>Every option, for the command.</summary>
    public IEnumerable<Option> All =>
        [Mode, Backend, Ranks, Tokens, LowLatencyTokens, Hidden, Topk, Experts, LowLatencyExperts, Sms, Warmups, Iterations, Seed, Json, Sweep, Plot, Compare, Intermediate, LocalExperts, Quant, CheckTokens, Dump, Phases];

    /// <summary>
    /// The settings the command line asks for, checked: <paramref name="groupSize"/> is the size of the group this
    /// process joined (<c>deepep launch</c>), which replaces <c>--ranks</c>.
    /// </summary>
    public BenchSettings Read(ParseResult parse, BenchBackendChoice backend, int? groupSize, int? groupLocalSize = null)
    {
        bool host = backend.Kind == EpBackendKind.Host;
        EpBackendKind? compare = parse.GetValue(Compare);
        BenchMode mode = parse.GetValue(Mode);
        if (compare is { } other)
        {
            CliUsageException.ThrowIf(
                other == backend.Kind ? $"--compare {BenchBackendChoice.Name(other)} is the backend already measured ({backend.Reason}); compare with another one."
                : parse.GetValue(Sweep) ? "--compare and --sweep do not combine: run the sweep once per backend (--backend) instead."
                : parse.GetResult(Mode) is { Implicit: false } && mode is BenchMode.LowLatency or BenchMode.Fused ? $"--compare covers normal mode; leave out --mode {mode.ToString().ToLowerInvariant()}."
                : null);
            // A comparison covers normal mode.
            mode = BenchMode.Normal;
        }
        CliUsageException.ThrowIf(mode == BenchMode.Fused && parse.GetValue(Sweep) ? "--sweep does not cover --mode fused: set --ll-tokens per run instead." : null);
        CliUsageException.ThrowIf(host && mode == BenchMode.Fused && parse.GetValue(CheckTokens) is { } hostCheck
            ? $"--check-tokens {hostCheck} is not valid on the host backend: the host backend is the reference, and every token is its own result."
            : null);
        bool fused = mode == BenchMode.Fused;
        CliUsageException.ThrowIf(!fused && parse.GetValue(Dump) is { } dump ? $"--dump {dump.Name} writes the fused layer's data: add --mode fused." : null);
        CliUsageException.ThrowIf(parse.GetValue(Plot) is { } plot && !parse.GetValue(Sweep)
            ? $"--plot {plot.Name} draws a token sweep: add --sweep (or draw a saved sweep with deepep plot)."
            : null);
        CliUsageException.ThrowIf(host && parse.GetValue(Phases)
            ? "--phases times the GPU kernels' phases: it is not valid on the host backend (use --backend kernels on a GPU machine)."
            : parse.GetValue(Phases) && parse.GetValue(Sweep) ? "--phases and --sweep do not combine: the sums would mix token counts; trace one --ll-tokens value per run."
            : null);
        int? sms = parse.GetValue(Sms);
        CliUsageException.ThrowIf(host && sms is { } hostSms
            ? $"--num-sms {hostSms} is not valid on the host backend: SMs apply only to the GPU backends (kernels, nccl)."
            : null);
        CliUsageException.ThrowIf(BenchBackendChoice.Problem(backend.Kind, backend.Reason));
        CliUsageException.ThrowIf(compare is { } compared ? BenchBackendChoice.Problem(compared, $"--compare {BenchBackendChoice.Name(compared)}") : null);
        if (sms is { } gpuSms)
        {
            int available = CudaDevice.Get(0).MultiprocessorCount;
            CliUsageException.ThrowIf(gpuSms < 2 || gpuSms > available || gpuSms % 2 != 0
                ? $"--num-sms {gpuSms} is not valid: use an even count from 2 to {available} (the SMs of {CudaDevice.Get(0).Name})."
                : null);
        }

        int ranks = groupSize ?? parse.GetValue(Ranks) ?? (host ? HostRanks : CudaDevice.Count);
        int perRank = Math.Clamp(ranks, 1, BenchSettings.MaxRanks);
        var settings = new BenchSettings(
            mode,
            ranks,
            backend.Kind,
            parse.GetValue(Tokens) ?? (host ? HostTokens : 4096),
            parse.GetValue(LowLatencyTokens) ?? (host ? (fused ? HostFusedTokens : HostLowLatencyTokens) : 128),
            parse.GetValue(Hidden) ?? (host ? (fused ? HostFusedHidden : HostHidden) : 7168),
            parse.GetValue(Topk),
            parse.GetValue(Experts) ?? (256 / perRank * perRank),
            parse.GetValue(LowLatencyExperts) ?? (288 / perRank * perRank),
            sms ?? (host ? RankPlacement.DefaultSms : RankPlacement.Sms(groupLocalSize ?? ranks, CudaDevice.Count, CudaDevice.Get(0).MultiprocessorCount)),
            parse.GetValue(Warmups) ?? (host ? 2 : 10),
            parse.GetValue(Iterations) ?? (host ? 5 : 50),
            parse.GetValue(Seed),
            parse.GetValue(Intermediate) ?? (host ? HostFusedIntermediate : 2048),
            parse.GetValue(LocalExperts) ?? (host ? HostFusedLocalExperts : 32),
            parse.GetValue(Quant) is { Length: > 0 } quants ? [.. quants.Distinct()] : null,
            parse.GetValue(CheckTokens) ?? (host ? int.MaxValue : 8),
            parse.GetValue(Dump)?.FullName);
        CliUsageException.ThrowIf(settings.Validate());
        return settings;
    }
}

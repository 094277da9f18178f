using System.Globalization;
using DeepEP.Cuda;
using DeepEP.Distributed;
using DeepEP.Ep;
using DeepEP.Tensors;
using MoeLayer;

// Ranks as threads of this process: one per GPU, or 4 ranks of the CPU reference backend without a GPU
// (DEEPEP_BACKEND picks another backend; --ranks N another count).
int ranks = args is ["--ranks", string count] ? int.Parse(count, CultureInfo.InvariantCulture) : CudaDevice.IsAvailable ? CudaDevice.Count : 4;
var shape = new LayerShape(ranks, Tokens: 64, DecodeTokens: 32, Hidden: 512, Intermediate: 128, ExpertsPerRank: 4, Topk: 4);
var random = new Random(2024);
Router router = Router.Create(shape, random);
Experts experts = Experts.Create(shape, random);
BFloat16[] Tokens(int tokens) => Enumerable.Range(0, tokens * shape.Hidden).Select(_ => BFloat16.FromFloat((float)random.NextGaussian())).ToArray();
BFloat16[][] prefill = Enumerable.Range(0, ranks).Select(_ => Tokens(shape.Tokens)).ToArray();
BFloat16[][] decode = Enumerable.Range(0, ranks).Select(_ => Tokens(shape.DecodeTokens)).ToArray();

// One group for all ranks, made once; each rank's thread takes its member.
ProcessGroup[] groups = ProcessGroup.CreateInProcess(ranks);
(float[] Output, EpBackendKind Backend)[] normal = RankThreads.Run(groups, group => NormalModeLayer.Forward(group, shape, router, experts, prefill[group.Rank]));
(float[] Output, EpBackendKind Backend)[] lowLatency = RankThreads.Run(groups, group => LowLatencyLayer.Forward(group, shape, router, experts, decode[group.Rank]));
(float[] Output, EpBackendKind Backend)[] fused = RankThreads.Run(groups, group => FusedLayer.Forward(group, shape, router, experts, decode[group.Rank]));
foreach (ProcessGroup group in groups)
{
    group.Dispose();
}

Console.WriteLine($"MoE layer on {ranks} ranks ({normal[0].Backend.ToString().ToLowerInvariant()} backend): {shape.Experts} experts ({shape.ExpertsPerRank} per rank), " +
    $"top-{shape.Topk}, hidden {shape.Hidden}, SwiGLU width {shape.Intermediate}; checked against the dense layer on one rank:");
bool normalOk = Check("normal mode, BF16", shape.Tokens, normal.Select(r => r.Output).ToArray(), DenseLayer.Forward(router, experts, shape, prefill, shape.Tokens), limit: 1e-4);
bool lowLatencyOk = Check("low-latency mode, FP8", shape.DecodeTokens, lowLatency.Select(r => r.Output).ToArray(), DenseLayer.Forward(router, experts, shape, decode, shape.DecodeTokens), limit: 1e-2);
bool fusedOk = Check("fused layer, FP8", shape.DecodeTokens, fused.Select(r => r.Output).ToArray(), DenseLayer.Forward(router, experts, shape, decode, shape.DecodeTokens), limit: 1e-2);
return normalOk && lowLatencyOk && fusedOk ? 0 : 1;

static bool Check(string what, int tokens, float[][] parallel, double[][] dense, double limit)
{
    (double calcDiff, double maxAbs) = DenseLayer.Compare(parallel, dense);
    bool ok = calcDiff < limit;
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"  {what,-22} {tokens,3} tokens/rank  calc_diff {calcDiff:0.00e+0}  max |Δ| {maxAbs:F4}  {(ok ? "ok" : "TOO LARGE")} (limit {limit:0e+0})"));
    return ok;
}

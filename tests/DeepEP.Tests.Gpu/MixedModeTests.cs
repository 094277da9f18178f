using DeepEP.Distributed;
using DeepEP.Ep;
using DeepEP.Tests.Gpu.LowLatency;
using DeepEP.Tests.Gpu.Normal;
using DeepEP.Tests.Gpu.Support;

namespace DeepEP.Tests.Gpu;

/// <summary>Normal mode, then low-latency mode, then normal mode again on one buffer that has both, against the CPU reference.</summary>
[Collection(GpuCollection.Name)]
public sealed class MixedModeTests(GpuFixture gpu)
{
    private static readonly NormalRun Normal = new(new NormalCase(333, 7168, 256, 8, Seed: 23, MaskedSlots: 3));
    private static readonly LowLatencyCase LowLatency = new(Tokens: 128, MaxTokens: 128, Hidden: 7168, Experts: 256, Topk: 8, MaskedSlots: 3, UseFp8: true, Seed: 23);

    public static TheoryData<int> Ranks => GpuRanks.Each(ShapeCases.Counts);

    [Theory(SkipTestWithoutData = true)]
    [MemberData(nameof(Ranks))]
    public void NormalThenLowLatencyThenNormalMatchTheReference(int ranks)
    {
        gpu.Require();
        NormalRun normal = Normal with { NumSms = GpuRanks.NumSms(ranks, Normal.NumSms) };
        Dictionary<string, byte[]>[] reference = RankHarness.Run(ranks, EpBackendKind.Host, (g, _) => Create(g, EpBackendKind.Host), b => Run(b, normal));
        PoolPoison.Fill();
        Snapshots.RequireEqual(EpBackendKind.Kernels, reference, RankHarness.Run(ranks, EpBackendKind.Kernels, (g, _) => Create(g, EpBackendKind.Kernels), b => Run(b, normal)));
    }

    private static Dictionary<string, byte[]> Run(EpBuffer buffer, NormalRun normal)
    {
        var all = new Dictionary<string, byte[]>();
        foreach ((string phase, Func<Dictionary<string, byte[]>> step) in new (string, Func<Dictionary<string, byte[]>>)[]
        {
            ("normal1", () => NormalScenario.Run(buffer, normal)),
            ("ll", () => LowLatencyScenario.Run(buffer, LowLatency)),
            ("normal2", () => NormalScenario.Run(buffer, normal with { Case = normal.Case with { Seed = 24 } })),
        })
        {
            foreach ((string name, byte[] bytes) in step())
            {
                all[$"{phase}.{name}"] = bytes;
            }
        }
        return all;
    }

    private static EpBuffer Create(ProcessGroup group, EpBackendKind backend) =>
        new(group, 1L << 30, LowLatency.BufferBytes(group.Size), lowLatencyMode: true,
            new EpBufferOptions { Backend = backend, Timeout = TimeSpan.FromSeconds(20) });
}

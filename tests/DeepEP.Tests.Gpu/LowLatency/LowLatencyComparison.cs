using DeepEP.Ep;
using DeepEP.Tensors;
using DeepEP.Tests.Gpu.Normal;

namespace DeepEP.Tests.Gpu.LowLatency;

/// <summary>
/// Runs <see cref="LowLatencyScenario"/> on the CPU reference and on a GPU backend and requires every snapshot to be
/// byte-identical. Both pack each expert's rows in (source rank, token, top-k slot) order, so this is stricter than
/// the spec's order-independent checks.
/// </summary>
internal static class LowLatencyComparison
{
    /// <param name="backend">The backend compared with the host reference.</param>
    /// <param name="c">The case.</param>
    /// <param name="prepare">Runs on every rank before the scenario (e.g. masking); with it the buffers allow masking and the final mask is compared too.</param>
    public static void MatchesReference(EpBackendKind backend, LowLatencyCase c, Action<EpBuffer>? prepare = null)
    {
        int ranks = LowLatencyKernelTests.RequirePeers();
        Dictionary<string, byte[]>[] reference = Run(ranks, EpBackendKind.Host, c, prepare);
        PoolPoison.Fill(ranks);
        Dictionary<string, byte[]>[] actual = Run(ranks, backend, c, prepare);
        for (int r = 0; r < ranks; r++)
        {
            foreach ((string name, byte[] expected) in reference[r])
            {
                byte[] got = actual[r][name];
                Assert.True(expected.AsSpan().SequenceEqual(got), $"{backend} rank {r}: {name} differs ({got.Length} vs {expected.Length} bytes)");
            }
        }
    }

    private static Dictionary<string, byte[]>[] Run(int ranks, EpBackendKind backend, LowLatencyCase c, Action<EpBuffer>? prepare) =>
        RankHarness.Run(ranks, backend, (g, r) => LowLatencyKernelTests.Create(g, r, c, backend, shrink: prepare is not null), b =>
        {
            prepare?.Invoke(b);
            Dictionary<string, byte[]> results = LowLatencyScenario.Run(b, c);
            if (prepare is not null)
            {
                using DeviceTensor mask = DeviceTensor.Empty(DType.Int32, [b.GroupSize], b.Device);
                b.LowLatencyQueryMaskBuffer(mask);
                results["mask"] = System.Runtime.InteropServices.MemoryMarshal.AsBytes(mask.ToArray<int>().AsSpan()).ToArray();
            }
            return results;
        });
}

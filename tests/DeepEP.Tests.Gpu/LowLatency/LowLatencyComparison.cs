using DeepEP.Ep;
using DeepEP.Tensors;
using DeepEP.Tests.Gpu.Normal;
using DeepEP.Tests.Gpu.Support;

namespace DeepEP.Tests.Gpu.LowLatency;

/// <summary>
/// Runs <see cref="LowLatencyScenario"/> on the CPU reference and on a GPU backend and requires every snapshot to be
/// byte-identical. Both pack each expert's rows in (source rank, token, top-k slot) order, so this is stricter than
/// the spec's order-independent checks. The calling test has required a GPU (<see cref="GpuFixture.Require"/>).
/// </summary>
internal static class LowLatencyComparison
{
    /// <param name="backend">The backend compared with the host reference.</param>
    /// <param name="ranks">Ranks, as threads on the visible GPUs round-robin.</param>
    /// <param name="c">The case.</param>
    /// <param name="prepare">Runs on every rank before the scenario (e.g. masking); with it the buffers allow masking and the final mask is compared too.</param>
    public static void MatchesReference(EpBackendKind backend, int ranks, LowLatencyCase c, Action<EpBuffer>? prepare = null)
    {
        Dictionary<string, byte[]>[] reference = Run(ranks, EpBackendKind.Host, c, prepare);
        PoolPoison.Fill();
        Snapshots.RequireEqual(backend, reference, Run(ranks, backend, c, prepare));
    }

    private static Dictionary<string, byte[]>[] Run(int ranks, EpBackendKind backend, LowLatencyCase c, Action<EpBuffer>? prepare) =>
        RankHarness.Run(ranks, backend, (g, _) => LowLatencyKernelTests.Create(g, c, backend, shrink: prepare is not null), b =>
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

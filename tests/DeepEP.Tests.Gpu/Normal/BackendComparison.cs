using DeepEP.Cuda;
using DeepEP.Ep;

namespace DeepEP.Tests.Gpu.Normal;

/// <summary>Runs <see cref="NormalScenario"/> on the CPU reference and on a GPU backend and requires every snapshot to be byte-identical.</summary>
internal static class BackendComparison
{
    public static void MatchesReference(EpBackendKind backend, NormalCase c, int alignment, int numSms, bool asyncFinish)
    {
        int ranks = CudaDevice.Count;
        long nvlBytes = 1L << 30;
        Dictionary<string, byte[]>[] reference = RankHarness.Run(ranks, EpBackendKind.Host, nvlBytes, b => NormalScenario.Run(b, c, alignment, numSms, asyncFinish));
        PoolPoison.Fill(ranks);
        Dictionary<string, byte[]>[] actual = RankHarness.Run(ranks, backend, nvlBytes, b => NormalScenario.Run(b, c, alignment, numSms, asyncFinish));
        for (int r = 0; r < ranks; r++)
        {
            foreach ((string name, byte[] expected) in reference[r])
            {
                byte[] got = actual[r][name];
                Assert.True(expected.AsSpan().SequenceEqual(got),
                    $"{backend} rank {r}: {name} differs ({got.Length} vs {expected.Length} bytes, first difference at byte {FirstDifference(expected, got)})");
            }
        }
    }

    public static void SkipWithoutTwoGpus() =>
        Assert.SkipUnless(CudaDevice.IsAvailable && CudaDevice.Count >= 2, "Needs at least two GPUs.");

    private static int FirstDifference(byte[] a, byte[] b)
    {
        int n = Math.Min(a.Length, b.Length);
        for (int i = 0; i < n; i++)
        {
            if (a[i] != b[i])
            {
                return i;
            }
        }
        return n;
    }
}

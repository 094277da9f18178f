using DeepEP.Ep;

namespace DeepEP.Tests.Gpu.Support;

/// <summary>Named byte snapshots of every rank's results, compared exactly.</summary>
internal static class Snapshots
{
    /// <summary>Fails on the first snapshot of any rank whose bytes differ from the reference's, naming rank, snapshot and offset.</summary>
    public static void RequireEqual(EpBackendKind backend, Dictionary<string, byte[]>[] reference, Dictionary<string, byte[]>[] actual)
    {
        Assert.Equal(reference.Length, actual.Length);
        for (int r = 0; r < reference.Length; r++)
        {
            foreach ((string name, byte[] expected) in reference[r])
            {
                Assert.True(actual[r].TryGetValue(name, out byte[]? got), $"{backend} rank {r}: no {name} snapshot");
                Assert.True(expected.AsSpan().SequenceEqual(got),
                    $"{backend} rank {r}: {name} differs ({got.Length} vs {expected.Length} bytes, first difference at byte {FirstDifference(expected, got)})");
            }
        }
    }

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

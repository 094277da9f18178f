using DeepEP.Cuda;
using DeepEP.Ep;

namespace DeepEP.Tests.Gpu.Support;

/// <summary>
/// The rank counts the multi-rank GPU tests run at and how those ranks land on the visible GPUs: round-robin
/// (<see cref="EpBuffer.GetDefaultDevice"/>), so one GPU holds all of them and time-shares its SMs. The kernels backend
/// runs every count on any number of GPUs; NCCL allows one rank per GPU.
/// </summary>
internal static class GpuRanks
{
    /// <summary>Runs only the rank counts it lists, e.g. <c>DEEPEP_TEST_RANKS=2,4</c> (all when unset).</summary>
    public const string FilterVariable = "DEEPEP_TEST_RANKS";

    /// <summary>The trait that names a test row's rank count.</summary>
    public const string Trait = "Ranks";

    /// <summary>Every multi-rank case runs at each of these, less those <see cref="FilterVariable"/> leaves out.</summary>
    public static readonly int[] Counts = [2, 4, 8];

    /// <summary>Ranks on the busiest GPU when <paramref name="ranks"/> share the visible GPUs round-robin.</summary>
    public static int PerGpu(int ranks) => (ranks + CudaDevice.Count - 1) / CudaDevice.Count;

    /// <summary><paramref name="wanted"/> SMs per rank, capped at an even share of a GPU among the ranks on it.</summary>
    public static int NumSms(int ranks, int wanted)
    {
        int share = CudaDevice.Get(0).MultiprocessorCount / PerGpu(ranks);
        return Math.Min(wanted, share - (share % 2));
    }

    /// <summary>The counts of <paramref name="counts"/> that <see cref="FilterVariable"/> keeps.</summary>
    public static int[] Filter(int[] counts)
    {
        string? only = Environment.GetEnvironmentVariable(FilterVariable);
        return only is null ? counts : counts.Where(c => only.Split(',').Select(s => s.Trim()).Contains(c.ToString(System.Globalization.CultureInfo.InvariantCulture))).ToArray();
    }

    /// <summary>Every row of <paramref name="cases"/> at every rank count, tagged with the <see cref="Trait"/>.</summary>
    public static TheoryData<int, T> Cross<T>(IEnumerable<T> cases, int[]? counts = null)
    {
        var data = new TheoryData<int, T>();
        int[] all = counts ?? Counts;
        foreach (int ranks in Filter(all))
        {
            foreach (T c in cases)
            {
                data.Add(new TheoryDataRow<int, T>(ranks, c).WithTrait(Trait, Name(ranks)));
            }
        }
        if (data.Count == 0)
        {
            data.Add(new TheoryDataRow<int, T>(all[0], cases.First()) { Skip = FilteredOut(all) });
        }
        return data;
    }

    /// <summary>One row per rank count, tagged with the <see cref="Trait"/>.</summary>
    public static TheoryData<int> Each(int[]? counts = null)
    {
        var data = new TheoryData<int>();
        int[] all = counts ?? Counts;
        foreach (int ranks in Filter(all))
        {
            data.Add(new TheoryDataRow<int>(ranks).WithTrait(Trait, Name(ranks)));
        }
        if (data.Count == 0)
        {
            data.Add(new TheoryDataRow<int>(all[0]) { Skip = FilteredOut(all) });
        }
        return data;
    }

    // A theory the filter empties gets one skipped row: xunit counts a theory without rows as a failure.
    private static string FilteredOut(int[] counts) =>
        $"{FilterVariable}={Environment.GetEnvironmentVariable(FilterVariable)} leaves out this test's rank counts ({string.Join(", ", counts)}).";

    private static string Name(int ranks) => ranks.ToString(System.Globalization.CultureInfo.InvariantCulture);
}

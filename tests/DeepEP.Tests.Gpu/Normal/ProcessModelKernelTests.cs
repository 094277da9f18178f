using DeepEP.Ep;
using DeepEP.Tests.Gpu.LowLatency;
using DeepEP.Tests.Gpu.Support;
using DeepEP.Tests.Support;

namespace DeepEP.Tests.Gpu.Normal;

/// <summary>
/// The kernels backend with one process per rank (CUDA IPC, the receive arena; several processes on one GPU when
/// there are fewer GPUs than ranks, time-sliced by the driver) against the CPU reference: the launcher starts N
/// <see cref="ProcessModelRank"/> processes, which run every normal-mode and low-latency case of the suite and write
/// their snapshots to a folder this test compares byte for byte with the host backend's; and the device work of one
/// dispatch and combine matches ranks as threads (<see cref="WorkComparison"/>).
/// </summary>
[Collection(GpuCollection.Name)]
public sealed class ProcessModelKernelTests(GpuFixture gpu)
{
    public static TheoryData<int> Ranks => GpuRanks.Each();

    [Theory(SkipTestWithoutData = true)]
    [MemberData(nameof(Ranks))]
    public async Task MatchesTheReferenceWithOneProcessPerRank(int ranks)
    {
        gpu.Require();
        Dictionary<string, byte[]>[] reference = RankHarness.Run(ranks, EpBackendKind.Host, b => Prefix("normal", NormalCases.Suite, c => NormalScenario.Run(b, ProcessModelRank.Fit(c, ranks))));
        foreach ((string name, LowLatencyCase c) in LowLatencyCases.Suite)
        {
            Dictionary<string, byte[]>[] ll = RankHarness.Run(ranks, EpBackendKind.Host, (g, _) => LowLatencyKernelTests.Create(g, c, EpBackendKind.Host), b => LowLatencyScenario.Run(b, c));
            for (int r = 0; r < ranks; r++)
            {
                foreach ((string snapshot, byte[] bytes) in ll[r])
                {
                    reference[r][$"ll.{name}.{snapshot}"] = bytes;
                }
            }
        }
        DirectoryInfo folder = Directory.CreateTempSubdirectory("deepep-ipc-");
        try
        {
            string log = await LaunchedRanks.RunAsync(ranks, ProcessModelRank.Command(folder.FullName), TimeSpan.FromMinutes(6));
            var actual = Enumerable.Range(0, ranks).Select(r => reference[r].Keys.ToDictionary(name => name, name => ProcessModelRank.Read(folder.FullName, r, name))).ToArray();
            Snapshots.RequireEqual(EpBackendKind.Kernels, reference, actual);
            var threads = RankHarness.Run(ranks, EpBackendKind.Kernels, b => NormalWork.Measure(b, GpuRanks.NumSms(ranks, 24)));
            string work = WorkComparison.RequireSameWork(threads, [.. Enumerable.Range(0, ranks).Select(r => ProcessModelRank.ReadWork(folder.FullName, r))]);
            TestContext.Current.TestOutputHelper?.WriteLine(work);
            TestContext.Current.TestOutputHelper?.WriteLine(log.Length > 4000 ? log[^4000..] : log);
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    private static Dictionary<string, byte[]> Prefix<T>(string prefix, IReadOnlyDictionary<string, T> cases, Func<T, Dictionary<string, byte[]>> run)
    {
        var all = new Dictionary<string, byte[]>();
        foreach ((string name, T c) in cases)
        {
            foreach ((string snapshot, byte[] bytes) in run(c))
            {
                all[$"{prefix}.{name}.{snapshot}"] = bytes;
            }
        }
        return all;
    }
}

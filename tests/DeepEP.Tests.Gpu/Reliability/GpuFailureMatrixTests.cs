using DeepEP.Ep;
using DeepEP.Tests.Gpu.Support;
using DeepEP.Tests.Reliability;

namespace DeepEP.Tests.Gpu.Reliability;

/// <summary>
/// The failure matrix (<see cref="FaultMatrix"/>, the host tests' rows) on the GPU backends, ranks as threads: the kernels
/// backend at every rank count on the visible GPUs, NCCL with one rank per GPU (needs two). Survivors of a stalled,
/// throwing or mismatched rank must fail within the deadline plus a slack, naming that rank, never before its step;
/// with shrink, a rank stalled in low-latency mode is masked, the call completes and cleaning the mask clears it. Every
/// buffer must dispose cleanly (the harness fails the test otherwise).
/// </summary>
[Collection(GpuCollection.Name)]
public sealed class GpuFailureMatrixTests(GpuFixture gpu)
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(1);

    /// <summary>Several ranks time-share one GPU's SMs, and a late error may wait for a second kernel's deadline.</summary>
    private static readonly TimeSpan Slack = TimeSpan.FromSeconds(2);

    private const string NcclNeedsTwo = "A faulty NCCL peer needs a second rank, and NCCL allows one rank per GPU: needs two GPUs.";

    public static TheoryData<int, string> KernelCases => GpuRanks.Cross(FaultMatrix.Named.Keys);

    public static TheoryData<int, FaultStep> KernelShrinkCases => GpuRanks.Cross(FaultMatrix.ShrinkSteps);

    public static TheoryData<string> NcclCases => [.. FaultMatrix.Named.Keys];

    public static TheoryData<FaultStep> NcclShrinkCases => [.. FaultMatrix.ShrinkSteps];

    [Theory(SkipTestWithoutData = true)]
    [MemberData(nameof(KernelCases))]
    public void KernelsSurvivorsFailInTimeNamingTheRank(int ranks, string fault)
    {
        gpu.Require();
        SurvivorsFail(ranks, EpBackendKind.Kernels, FaultMatrix.Named[fault]);
    }

    [Theory(SkipTestWithoutData = true)]
    [MemberData(nameof(KernelShrinkCases))]
    public void KernelsShrinkMasksAStalledRank(int ranks, FaultStep step)
    {
        gpu.Require();
        SurvivorsMask(ranks, EpBackendKind.Kernels, step);
    }

    [Theory]
    [MemberData(nameof(NcclCases))]
    public void NcclSurvivorsFailInTimeNamingTheRank(string fault)
    {
        gpu.Require(2, NcclNeedsTwo);
        SurvivorsFail(gpu.DeviceCount, EpBackendKind.Nccl, FaultMatrix.Named[fault]);
    }

    [Theory]
    [MemberData(nameof(NcclShrinkCases))]
    public void NcclShrinkMasksAStalledRank(FaultStep step)
    {
        gpu.Require(2, NcclNeedsTwo);
        SurvivorsMask(gpu.DeviceCount, EpBackendKind.Nccl, step);
    }

    private static void SurvivorsFail(int ranks, EpBackendKind backend, FaultCase fault)
    {
        GpuRankReport[] reports = GpuFaultRun.Run(ranks, backend, fault, Deadline);
        // The GPU layout is local: a fault there shows in the dispatch at the earliest.
        FaultStep earliest = fault.Step == FaultStep.Layout ? FaultStep.Dispatch : fault.Step;
        foreach ((GpuRankReport report, int rank) in reports.Select((r, i) => (r, i)).Where(p => p.i != fault.FaultyRank))
        {
            Exception error = report.Error ?? throw new Xunit.Sdk.XunitException($"{backend}, {ranks} ranks: rank {rank} finished although rank {fault.FaultyRank} failed ({fault}).");
            Assert.Contains($"rank {fault.FaultyRank}", error.ToString(), StringComparison.OrdinalIgnoreCase);
            Assert.InRange(report.Reached, earliest, FaultStep.LowLatencyCombine);
            Assert.True(report.Elapsed <= Deadline + Slack, $"rank {rank} failed only after {report.Elapsed.TotalSeconds:F2} s: {error.Message}");
        }
        Log(backend, ranks, fault.ToString(), reports, fault.FaultyRank);
    }

    private static void SurvivorsMask(int ranks, EpBackendKind backend, FaultStep step)
    {
        int dead = ranks - 1;
        GpuRankReport[] reports = GpuFaultRun.Run(ranks, backend, new FaultCase(step, FaultKind.Stall, dead), Deadline, shrink: true);
        foreach (GpuRankReport report in reports.Take(dead))
        {
            Assert.Null(report.Error);
            Assert.Equal(Enumerable.Range(0, ranks).Select(r => r == dead ? 1 : 0), report.Mask);
            Assert.True(report.Unmasked, "cleaning the mask did not clear it");
            Assert.True(report.Elapsed <= Deadline + Slack, $"masking took {report.Elapsed.TotalSeconds:F2} s");
        }
        Log(backend, ranks, $"shrink, {step}", reports, dead);
    }

    private static void Log(EpBackendKind backend, int ranks, string fault, GpuRankReport[] reports, int faulty)
    {
        double slowest = reports.Where((_, r) => r != faulty).Max(r => r.Elapsed.TotalSeconds);
        string first = reports.Where((_, r) => r != faulty).Select(r => r.Error?.Message).FirstOrDefault(m => m is not null) ?? "completed";
        TestContext.Current.TestOutputHelper?.WriteLine($"{backend}, {ranks} ranks, {fault}: slowest survivor {slowest:F2} s; {first}");
    }
}

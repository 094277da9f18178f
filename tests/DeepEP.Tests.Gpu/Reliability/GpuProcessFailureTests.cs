using System.Text.RegularExpressions;
using DeepEP.Ep;
using DeepEP.Tests.Gpu.Support;
using DeepEP.Tests.Reliability;
using DeepEP.Tests.Support;

namespace DeepEP.Tests.Gpu.Reliability;

/// <summary>
/// The process rows of the failure matrix on the GPU backends (<see cref="FaultMatrix.ProcessCases"/>): each rank a
/// process (<see cref="FaultRank"/>, started by <see cref="LaunchedRanks"/>), rank 1 stops (SIGSTOP) or kills itself
/// (SIGKILL) at a step. The kernels backend runs 2 processes on GPU 0; NCCL one process per GPU (needs two). Without
/// shrink every survivor must exit 1 within the deadline plus a slack of the fault, naming rank 1 and a step no earlier
/// than the faulty one (a kernel's timeout is reported by the next call); with shrink (kernels: the mask lives in the
/// kernels, so it works across processes) a rank lost in low-latency mode is masked, the survivors finish and cleaning
/// the mask clears it.
/// </summary>
[Collection(GpuCollection.Name)]
public sealed class GpuProcessFailureTests(GpuFixture gpu)
{
    private const int KernelRanks = 2;

    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(1);

    /// <summary>Processes time-share one GPU, a late error may wait for a second kernel's deadline, and a process takes time to exit.</summary>
    private static readonly TimeSpan Slack = TimeSpan.FromSeconds(3);

    private static readonly HashSet<EpBackendKind> Warm = [];

    /// <summary>The kernels rows, tagged with their 2 ranks so that a rank filter (<c>DEEPEP_TEST_RANKS</c>) without 2 skips them.</summary>
    public static TheoryData<int, string> KernelCases => GpuRanks.Cross(FaultMatrix.ProcessNamed.Keys, [KernelRanks]);

    public static TheoryData<int, string> KernelShrinkCases =>
        GpuRanks.Cross(FaultMatrix.ProcessNamed.Where(c => FaultMatrix.ShrinkSteps.Contains(c.Value.Step)).Select(c => c.Key), [KernelRanks]);

    public static TheoryData<FaultStep, FaultKind> NcclCases => [.. FaultMatrix.ProcessCases.Select(c => (c.Step, c.Kind))];

    [Theory(SkipTestWithoutData = true)]
    [MemberData(nameof(KernelCases))]
    public async Task KernelsSurvivorsFailInTimeNamingTheRank(int ranks, string fault)
    {
        gpu.Require();
        await SurvivorsFail(ranks, EpBackendKind.Kernels, FaultMatrix.ProcessNamed[fault]);
    }

    [Theory(SkipTestWithoutData = true)]
    [MemberData(nameof(KernelShrinkCases))]
    public async Task KernelsShrinkMasksALostRank(int ranks, string name)
    {
        gpu.Require();
        FaultCase fault = FaultMatrix.ProcessNamed[name];
        LaunchedRank[] outcomes = await LaunchedRanks.RunWithCasualtyAsync(ranks, await Command(ranks, EpBackendKind.Kernels, fault, shrink: true),
            fault.FaultyRank, killed: fault.Kind == FaultKind.Kill, Deadline + Slack + TimeSpan.FromSeconds(60));
        LaunchedRank survivor = outcomes[0];
        Assert.True(survivor.ExitCode == 0, $"rank 0 did not finish: status {survivor.ExitCode}.{Environment.NewLine}{survivor.Output}");
        Assert.Contains("mask 0,1; cleaning cleared it: True", survivor.Output);
        Assert.True(survivor.SecondsToExit <= (Deadline + Slack).TotalSeconds, $"masking took {survivor.SecondsToExit:F2} s");
    }

    [Theory]
    [MemberData(nameof(NcclCases))]
    public async Task NcclSurvivorsFailInTimeNamingTheRank(FaultStep step, FaultKind kind)
    {
        gpu.Require(2, "NCCL allows one rank per GPU, and a faulty peer needs a second rank: needs two GPUs.");
        await SurvivorsFail(gpu.DeviceCount, EpBackendKind.Nccl, new FaultCase(step, kind));
    }

    private static async Task SurvivorsFail(int ranks, EpBackendKind backend, FaultCase fault)
    {
        // The GPU layout is local: a fault there shows in the dispatch at the earliest; later steps count too.
        FaultStep earliest = fault.Step == FaultStep.Layout ? FaultStep.Dispatch : fault.Step;
        string steps = string.Join("|", Enum.GetValues<FaultStep>().Where(s => s >= earliest).Select(s => Regex.Escape(new FaultCase(s, fault.Kind).ExpectedStepName)));
        await LaunchedRanks.SurvivorsFailAsync(ranks, await Command(ranks, backend, fault, shrink: false), fault.FaultyRank,
            killed: fault.Kind == FaultKind.Kill, steps, Deadline + Slack);
    }

    /// <summary>The rank command; the first on each backend is preceded by a run without a fault that fills the kernel cache (compiling takes longer than the deadline).</summary>
    private static async Task<string[]> Command(int ranks, EpBackendKind backend, FaultCase fault, bool shrink)
    {
        int numSms = GpuRanks.NumSms(backend == EpBackendKind.Kernels ? ranks : 1, 20);
        bool cold;
        lock (Warm)
        {
            cold = Warm.Add(backend);
        }
        if (cold)
        {
            await LaunchedRanks.RunAsync(ranks, FaultRank.Command(new FaultCase(FaultStep.Layout, FaultKind.Stall, FaultyRank: -1), backend, TimeSpan.FromSeconds(60), numSms: numSms));
        }
        return FaultRank.Command(fault, backend, Deadline, shrink, numSms);
    }
}

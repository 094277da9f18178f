using DeepEP.Ep;
using DeepEP.Tests.Support;

namespace DeepEP.Tests.Reliability;

/// <summary>
/// One process per rank (<see cref="FaultRank"/> started by <see cref="LaunchedRanks"/>, joined over TCP, 2 s
/// deadline): a rank stops (SIGSTOP) or kills itself (SIGKILL) at a step. Every survivor must exit with status 1
/// within the deadline plus the relay's verdict wait of the fault, plus the time a process takes to report and exit,
/// naming the rank and the step, never hang.
/// </summary>
public sealed class ProcessFailureTests
{
    private const int Ranks = 2;

    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(2);

    /// <summary>Reporting and exiting: about 1 s, but CI's two cores also run the other tests (6.05 s measured where 5.15 s is usual).</summary>
    private static readonly TimeSpan ExitSlack = TimeSpan.FromSeconds(3);

    public static TheoryData<FaultStep, FaultKind> Rows => [.. FaultMatrix.ProcessCases.Select(c => (c.Step, c.Kind))];

    [Theory]
    [MemberData(nameof(Rows))]
    public Task TheSurvivorReportsTheRankAndStep(FaultStep step, FaultKind kind) =>
        SurvivorsFail(new FaultCase(step, kind), kind == FaultKind.Kill ? ExitSlack : Timeout + ExitSlack);

    /// <summary>Rank 0 hosts the relay: the survivor waits 2 s past its deadline for a verdict that cannot come.</summary>
    [Fact]
    public Task AStoppedRankZeroIsNamed() =>
        SurvivorsFail(new FaultCase(FaultStep.Dispatch, FaultKind.Stall, FaultyRank: 0), Timeout + TimeSpan.FromSeconds(2) + ExitSlack);

    [Fact]
    public Task AKilledRankZeroIsNamed() =>
        SurvivorsFail(new FaultCase(FaultStep.Dispatch, FaultKind.Kill, FaultyRank: 0), ExitSlack);

    private static async Task SurvivorsFail(FaultCase fault, TimeSpan within)
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "Sends POSIX signals.");
        await LaunchedRanks.SurvivorsFailAsync(Ranks, FaultRank.Command(fault, EpBackendKind.Host, Timeout), fault.FaultyRank,
            killed: fault.Kind == FaultKind.Kill, System.Text.RegularExpressions.Regex.Escape(fault.ExpectedStepName), within);
    }
}

namespace DeepEP.Tests.Reliability;

/// <summary>
/// A rank that never makes its call (a hung thread; over TCP the same as a process under SIGSTOP): every survivor fails
/// at the buffer's deadline, not the process group's 100 s default, naming the rank and the step.
/// </summary>
public abstract class StallFailureTests(ProcessModel model)
{
    public static TheoryData<FaultStep, bool> Steps => new()
    {
        { FaultStep.Layout, false },
        { FaultStep.Dispatch, false },
        { FaultStep.Combine, false },
        { FaultStep.Clean, false },
        { FaultStep.LowLatencyDispatch, false },
        { FaultStep.LowLatencyCombine, false },
        // The host exchange is one blocking collective of every rank, so shrink cannot complete without the peer (docs/reliability.md).
        { FaultStep.LowLatencyDispatch, true },
        { FaultStep.LowLatencyCombine, true },
    };

    /// <summary>Over TCP a rank waits up to 2 s past its deadline for the relay's verdict.</summary>
    private TimeSpan Slack => model == ProcessModel.Tcp ? TimeSpan.FromSeconds(3) : TimeSpan.FromSeconds(1);

    [Theory]
    [MemberData(nameof(Steps))]
    public void SurvivorsFailAtTheDeadlineNamingTheRankAndStep(FaultStep step, bool shrink) =>
        FailureAssertions.Survivors(new FaultCase(step, FaultKind.Stall, shrink), model,
            FailureAssertions.Timeout * 0.95, FailureAssertions.Timeout + Slack);
}

public sealed class ThreadStallFailureTests() : StallFailureTests(ProcessModel.Threads);

public sealed class TcpStallFailureTests() : StallFailureTests(ProcessModel.Tcp)
{
    [Fact]
    public void AStalledRankZeroIsNamedToo() =>
        FailureAssertions.Survivors(new FaultCase(FaultStep.Dispatch, FaultKind.Stall, FaultyRank: 0), ProcessModel.Tcp,
            FailureAssertions.Timeout * 0.95, FailureAssertions.Timeout + TimeSpan.FromSeconds(3));
}

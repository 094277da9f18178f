namespace DeepEP.Tests.Reliability;

/// <summary>
/// A rank that never makes its call (a hung thread; over TCP the same as a process under SIGSTOP): every survivor fails
/// at the buffer's deadline, not the process group's 100 s default, naming the rank and the step.
/// </summary>
public abstract class StallFailureTests(ProcessModel model)
{
    // With shrink, an in-process group masks the stalled rank instead (ShrinkStallTests) and a TCP group refuses shrink.
    public static TheoryData<FaultStep> Steps => [.. FaultMatrix.StallSteps];

    /// <summary>
    /// Over TCP a rank waits up to 2 s past its deadline for the relay's verdict. Threads get 2 s too: on a 2-core CI
    /// machine the run's first case also pays JIT compilation beside the other test classes (seen 1.4 s late).
    /// </summary>
    private TimeSpan Slack => model == ProcessModel.Tcp ? TimeSpan.FromSeconds(3) : TimeSpan.FromSeconds(2);

    [Theory]
    [MemberData(nameof(Steps))]
    public void SurvivorsFailAtTheDeadlineNamingTheRankAndStep(FaultStep step) =>
        FailureAssertions.Survivors(new FaultCase(step, FaultKind.Stall), model,
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

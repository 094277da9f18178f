namespace DeepEP.Tests.Reliability;

/// <summary>
/// A rank that throws inside a call (and unwinds, disposing its buffer and group) or calls with another hidden size:
/// the survivors fail at once, naming the rank and the step, and dispose cleanly.
/// </summary>
public sealed class CallFailureTests
{
    private static readonly TimeSpan Prompt = TimeSpan.FromSeconds(1);

    public static TheoryData<FaultStep, FaultKind, ProcessModel> Cases()
    {
        var cases = new TheoryData<FaultStep, FaultKind, ProcessModel>();
        foreach (ProcessModel model in Enum.GetValues<ProcessModel>())
        {
            foreach (FaultCase fault in FaultMatrix.Cases.Where(c => c.Kind != FaultKind.Stall))
            {
                cases.Add(fault.Step, fault.Kind, model);
            }
        }
        return cases;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void SurvivorsFailPromptlyNamingTheRankAndStep(FaultStep step, FaultKind kind, ProcessModel model) =>
        FailureAssertions.Survivors(new FaultCase(step, kind), model, TimeSpan.Zero, Prompt);
}

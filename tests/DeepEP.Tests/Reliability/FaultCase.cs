namespace DeepEP.Tests.Reliability;

/// <summary>The steps of one rank's script, in the order every rank runs them.</summary>
public enum FaultStep
{
    Layout,
    Dispatch,
    Combine,
    Clean,
    LowLatencyDispatch,
    LowLatencyCombine,
}

/// <summary>What the faulty rank does at its step.</summary>
public enum FaultKind
{
    /// <summary>Never makes the call (a hung thread, a process under SIGSTOP).</summary>
    Stall,

    /// <summary>Makes the call, which throws inside its exchange; the rank then unwinds and disposes its buffer and group.</summary>
    Throw,

    /// <summary>Makes the call with another hidden size than its peers.</summary>
    MismatchedShape,

    /// <summary>Dies at the step (a process under SIGKILL; ranks as processes only).</summary>
    Kill,
}

/// <summary>One row of the failure matrix: rank <paramref name="FaultyRank"/> misbehaves at <paramref name="Step"/>.</summary>
public sealed record FaultCase(FaultStep Step, FaultKind Kind, int FaultyRank = 1)
{
    /// <summary>The step name the survivors' exception must carry: the first step with an exchange at or after the fault.</summary>
    public string ExpectedStepName => Step switch
    {
        FaultStep.Layout or FaultStep.Dispatch => "dispatch", // the host layout is local; the first exchange is the dispatch
        FaultStep.Combine => "combine",
        FaultStep.Clean => "clean low-latency buffer",
        FaultStep.LowLatencyDispatch => "low-latency dispatch",
        _ => "low-latency combine",
    };
}

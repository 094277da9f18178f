namespace DeepEP.Tests.Reliability;

/// <summary>The rows of the failure matrix, shared by the host tests (CI) and the GPU suite: which steps each kind of fault is injected at.</summary>
public static class FaultMatrix
{
    /// <summary>A rank that never makes its call: at every step.</summary>
    public static readonly FaultStep[] StallSteps =
        [FaultStep.Layout, FaultStep.Dispatch, FaultStep.Combine, FaultStep.Clean, FaultStep.LowLatencyDispatch, FaultStep.LowLatencyCombine];

    /// <summary>A rank that throws mid-call: at every step that communicates.</summary>
    public static readonly FaultStep[] ThrowSteps =
        [FaultStep.Dispatch, FaultStep.Combine, FaultStep.Clean, FaultStep.LowLatencyDispatch, FaultStep.LowLatencyCombine];

    /// <summary>A rank that passes another hidden size: at every step that takes rows.</summary>
    public static readonly FaultStep[] MismatchSteps = [FaultStep.Dispatch, FaultStep.Combine, FaultStep.LowLatencyDispatch];

    /// <summary>A rank that stalls where shrink masks it instead of failing the survivors.</summary>
    public static readonly FaultStep[] ShrinkSteps = [FaultStep.LowLatencyDispatch, FaultStep.LowLatencyCombine];

    /// <summary>Every stall, throw and mismatch row, rank 1 faulty.</summary>
    public static IEnumerable<FaultCase> Cases =>
        StallSteps.Select(s => new FaultCase(s, FaultKind.Stall))
            .Concat(ThrowSteps.Select(s => new FaultCase(s, FaultKind.Throw)))
            .Concat(MismatchSteps.Select(s => new FaultCase(s, FaultKind.MismatchedShape)));

    /// <summary>A rank process stopped (SIGSTOP) or killed (SIGKILL) at every step where a thread stalls.</summary>
    public static IEnumerable<FaultCase> ProcessCases =>
        StallSteps.SelectMany(s => new[] { new FaultCase(s, FaultKind.Stall), new FaultCase(s, FaultKind.Kill) });

    /// <summary><see cref="Cases"/> by a name such as "Stall Dispatch" (theory rows that serialize).</summary>
    public static IReadOnlyDictionary<string, FaultCase> Named => Cases.ToDictionary(Name);

    /// <summary><see cref="ProcessCases"/> by a name such as "Kill Combine".</summary>
    public static IReadOnlyDictionary<string, FaultCase> ProcessNamed => ProcessCases.ToDictionary(Name);

    private static string Name(FaultCase c) => $"{c.Kind} {c.Step}";
}

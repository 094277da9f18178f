using DeepEP.Ep;

namespace DeepEP.Tests.Reliability;

/// <summary>What every survivor of a fault must show: an exception naming the faulty rank and the step, in time, and a clean disposal.</summary>
internal static class FailureAssertions
{
    /// <summary>The deadline of every buffer in the matrix: short, so CI stays fast.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(2);

    /// <summary>Runs <paramref name="fault"/>, checks the survivors and returns the slowest survivor's detection time.</summary>
    public static TimeSpan Survivors(FaultCase fault, ProcessModel model, TimeSpan earliest, TimeSpan latest)
    {
        RankReport[] reports = FaultRun.Run(fault, model, Timeout);
        TimeSpan slowest = TimeSpan.Zero;
        for (int rank = 0; rank < reports.Length; rank++)
        {
            RankReport report = reports[rank];
            Assert.True(report.DisposedCleanly, $"rank {rank} did not dispose cleanly");
            if (rank == fault.FaultyRank)
            {
                continue;
            }
            Exception error = report.Error ?? throw new Xunit.Sdk.XunitException($"rank {rank} finished although rank {fault.FaultyRank} failed ({fault}).");
            if (error is CommunicationTimeoutException timeout)
            {
                Assert.Contains(fault.FaultyRank, timeout.MissingRanks);
                Assert.Equal(fault.ExpectedStepName, timeout.Operation);
            }
            else
            {
                Assert.Contains($"rank {fault.FaultyRank}", error.ToString(), StringComparison.OrdinalIgnoreCase);
                Assert.Contains($"DeepEP {fault.ExpectedStepName} ", error.Message, StringComparison.Ordinal);
            }
            Assert.InRange(report.InStep, earliest, latest);
            slowest = report.InStep > slowest ? report.InStep : slowest;
        }
        TestContext.Current.TestOutputHelper?.WriteLine($"{fault} {model}: detected in {slowest.TotalSeconds:F2} s");
        return slowest;
    }
}

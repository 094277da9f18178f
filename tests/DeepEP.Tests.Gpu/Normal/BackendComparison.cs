using DeepEP.Ep;
using DeepEP.Tests.Gpu.Support;

namespace DeepEP.Tests.Gpu.Normal;

/// <summary>Runs <see cref="NormalScenario"/> (or another scenario) on the CPU reference and on a GPU backend and requires every snapshot to be byte-identical; the calling test has required a GPU (<see cref="GpuFixture.Require"/>).</summary>
internal static class BackendComparison
{
    public static void MatchesReference(EpBackendKind backend, int ranks, NormalRun run,
        Func<EpBuffer, NormalRun, Dictionary<string, byte[]>>? scenario = null)
    {
        scenario ??= NormalScenario.Run;
        // Ranks sharing a GPU split its SMs; both backends use the same count, which fixes the channel layout.
        NormalRun fitted = run with { NumSms = GpuRanks.NumSms(ranks, run.NumSms) };
        Dictionary<string, byte[]>[] reference = RankHarness.Run(ranks, EpBackendKind.Host, b => scenario(b, fitted));
        PoolPoison.Fill();
        Dictionary<string, byte[]>[] actual = RankHarness.Run(ranks, backend, b => scenario(b, fitted));
        Snapshots.RequireEqual(backend, reference, actual);
    }
}

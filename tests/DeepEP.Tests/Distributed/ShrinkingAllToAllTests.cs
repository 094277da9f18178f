using System.Text;
using DeepEP.Distributed;
using DeepEP.Tests.Support;

namespace DeepEP.Tests.Distributed;

/// <summary>
/// The shrink-mode all-to-all of in-process groups: a rank late for the deadline is left out (null) and not waited
/// for again; other collectives are refused meanwhile without breaking the group; the late rank's calls are refused
/// until every rank readmits it, after which every rank takes part again.
/// </summary>
public sealed class ShrinkingAllToAllTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromMilliseconds(300);

    [Fact]
    public void ALateRankIsLeftOutUntilReadmitted()
    {
        const int late = 2;
        ProcessGroup[] groups = ProcessGroup.CreateInProcess(3);
        using var release = new ManualResetEventSlim();
        using var survivorsLeft = new CountdownEvent(2);
        string[][] rounds = RankThreads.RunAll(groups, group =>
        {
            var shrinking = (IShrinkingGroup)group;
            if (group.Rank == late)
            {
                release.Wait();
                var refused = Assert.Throws<RankLeftOutException>(() => shrinking.AllToAllLeavingOutLateRanks(Payloads(group), Deadline));
                Assert.Contains("Rank 2 was left out of collective #1", refused.Message, StringComparison.Ordinal);
                Assert.Throws<RankLeftOutException>(() => group.Barrier(Deadline));
            }
            else
            {
                try
                {
                    Assert.Equal([$"0>{group.Rank}", $"1>{group.Rank}", "left out"], Texts(shrinking.AllToAllLeavingOutLateRanks(Payloads(group), Deadline)));
                    var refused = Assert.Throws<InvalidOperationException>(() => group.Barrier(Deadline));
                    Assert.Contains("rank(s) 2 were left out", refused.Message, StringComparison.Ordinal);
                    var clock = System.Diagnostics.Stopwatch.StartNew();
                    Assert.Equal([$"0>{group.Rank}", $"1>{group.Rank}", "left out"], Texts(shrinking.AllToAllLeavingOutLateRanks(Payloads(group), Deadline)));
                    Assert.True(clock.Elapsed < Deadline, "a round without the left-out rank waited for it");
                }
                finally
                {
                    if (survivorsLeft.Signal())
                    {
                        release.Set();
                    }
                }
            }
            shrinking.Readmit(TimeSpan.FromSeconds(10));
            return Texts(shrinking.AllToAllLeavingOutLateRanks(Payloads(group), Deadline));
        });
        for (int rank = 0; rank < 3; rank++)
        {
            Assert.Equal([$"0>{rank}", $"1>{rank}", $"2>{rank}"], rounds[rank]);
        }
    }

    [Fact]
    public void PlainCollectivesStillFailTheGroupAtTheDeadline()
    {
        ProcessGroup[] groups = ProcessGroup.CreateInProcess(2);
        using var done = new ManualResetEventSlim();
        RankOutcome<int>[] outcomes = RankThreads.Run(groups, group =>
        {
            if (group.Rank == 1)
            {
                done.Wait(); // stays in the group, silent, until rank 0 has seen its failures
                return 0;
            }
            try
            {
                var timeout = Assert.Throws<ProcessGroupTimeoutException>(() => group.AllToAll(Payloads(group), Deadline));
                Assert.Equal([1], timeout.MissingRanks);
                var broken = Assert.Throws<ProcessGroupException>(() => ((IShrinkingGroup)group).AllToAllLeavingOutLateRanks(Payloads(group), Deadline));
                Assert.Contains("can no longer be used", broken.Message, StringComparison.Ordinal);
            }
            finally
            {
                done.Set();
            }
            return 0;
        });
        Assert.All(outcomes, outcome => Assert.Null(outcome.Error));
    }

    private static ReadOnlyMemory<byte>[] Payloads(ProcessGroup group) =>
        [.. Enumerable.Range(0, group.Size).Select(destination => (ReadOnlyMemory<byte>)Encoding.UTF8.GetBytes($"{group.Rank}>{destination}"))];

    private static string[] Texts(byte[]?[] received) => [.. received.Select(bytes => bytes is null ? "left out" : Encoding.UTF8.GetString(bytes))];
}

using System.Diagnostics;
using DeepEP.Distributed;
using DeepEP.Ep;
using DeepEP.Tensors;
using DeepEP.Tests.Distributed;
using DeepEP.Tests.Support;

namespace DeepEP.Tests.Reliability;

/// <summary>
/// Low-latency shrink mode on the host backend: a rank that never makes its low-latency dispatch or combine is masked by
/// every survivor at the deadline, the call completes without its experts (exactly as the GPU masking test computes),
/// later calls do not wait for it, its late call is refused clearly, and after every rank cleans the mask a full round
/// works again.
/// </summary>
public sealed class ShrinkStallTests
{
    private const int Tokens = 8;
    private const int Hidden = 128;
    private const int Topk = 2;
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(1);

    public static TheoryData<int, FaultStep> Cases => [.. new[] { 2, 4, 8 }.SelectMany(ranks => FaultMatrix.ShrinkSteps.Select(step => (ranks, step)))];

    [Theory]
    [MemberData(nameof(Cases))]
    public void ASilentRankIsMaskedLeftOutAndReadmitted(int ranks, FaultStep stalled)
    {
        int dead = ranks - 1;
        int experts = 2 * ranks;
        ProcessGroup[] groups = ProcessGroup.CreateInProcess(ranks);
        using var release = new ManualResetEventSlim();
        using var survivorsLeft = new CountdownEvent(ranks - 1);
        // The stall is timed from the first survivor's start: the ranks' threads start up to tens of milliseconds apart
        // on a busy machine, and a late one sees the deadline its peers' waits began.
        long firstStart = long.MaxValue;
        string[] outcomes = RankThreads.RunAll(groups, group =>
        {
            using var buffer = new EpBuffer(group, 1L << 20, EpBuffer.GetLowLatencyRdmaSizeHint(Tokens, Hidden, ranks, experts), lowLatencyMode: true,
                new EpBufferOptions { Backend = EpBackendKind.Host, Timeout = Deadline, EnableShrink = true });
            using var inputs = new Inputs(group.Rank, experts);
            if (group.Rank == dead)
            {
                return RunDeadRank(buffer, inputs, stalled, release);
            }
            try
            {
                long started = Stopwatch.GetTimestamp();
                for (long first = Volatile.Read(ref firstStart); started < first; first = Volatile.Read(ref firstStart))
                {
                    Interlocked.CompareExchange(ref firstStart, started, first);
                }
                BFloat16[] shrunk = inputs.DispatchAndCombine(buffer);
                TimeSpan inStall = Stopwatch.GetElapsedTime(Volatile.Read(ref firstStart));
                Assert.InRange(inStall, Deadline * 0.95, Deadline + TimeSpan.FromSeconds(1));
                Assert.Equal(inputs.Reference(ranks, dead), shrunk);
                Assert.Equal(Enumerable.Range(0, ranks).Select(r => r == dead ? 1 : 0), Mask(buffer, ranks));

                // Masked ranks are neither sent to nor waited for: the next round ends long before the deadline.
                var clock = Stopwatch.StartNew();
                Assert.Equal(inputs.Reference(ranks, dead), inputs.DispatchAndCombine(buffer));
                Assert.True(clock.Elapsed < Deadline / 2, $"a round after the mask took {clock.Elapsed.TotalSeconds:F2} s");
                TestContext.Current.TestOutputHelper?.WriteLine($"{ranks} ranks, {stalled}: rank {group.Rank} masked rank {dead} after {inStall.TotalSeconds:F2} s");
            }
            finally
            {
                if (survivorsLeft.Signal())
                {
                    release.Set();
                }
            }
            buffer.LowLatencyCleanMaskBuffer();
            Assert.All(Mask(buffer, ranks), m => Assert.Equal(0, m));
            Assert.Equal(inputs.Reference(ranks, dead: -1), inputs.DispatchAndCombine(buffer));
            return "survived";
        });
        Assert.Equal(ranks - 1, outcomes.Count(o => o == "survived"));
        Assert.Contains("left out", outcomes[dead], StringComparison.Ordinal);
    }

    [Fact]
    public void ShrinkOverTcpIsRefusedAtCreation()
    {
        using ProcessGroup group = ProcessGroup.Connect(LoopbackRanks.Environment(0, 1, LoopbackRanks.FreePort()), TimeSpan.FromSeconds(20));
        var refused = Assert.Throws<NotSupportedException>(() => new EpBuffer(group, 1L << 20, EpBuffer.GetLowLatencyRdmaSizeHint(Tokens, Hidden, 1, 2),
            lowLatencyMode: true, new EpBufferOptions { Backend = EpBackendKind.Host, EnableShrink = true }));
        Assert.Contains("in-process group", refused.Message, StringComparison.Ordinal);
    }

    // Parks instead of making its stalled call; once released, the late call is refused, and it joins the clean and a full round.
    private static string RunDeadRank(EpBuffer buffer, Inputs inputs, FaultStep stalled, ManualResetEventSlim release)
    {
        int ranks = buffer.GroupSize;
        string refusal;
        if (stalled == FaultStep.LowLatencyDispatch)
        {
            release.Wait();
            refusal = Assert.Throws<ProcessGroupException>(() => inputs.DispatchAndCombine(buffer)).Message;
        }
        else
        {
            using LowLatencyDispatchResult dispatched = buffer.LowLatencyDispatch(inputs.X, inputs.TopkIdx, Tokens, inputs.Experts, useFp8: false);
            using LowLatencyHandle handle = dispatched.Handle;
            release.Wait();
            refusal = Assert.Throws<ProcessGroupException>(() => buffer.LowLatencyCombine(dispatched.PackedRecvX, inputs.TopkIdx, inputs.TopkWeights, handle)).Message;
        }
        Assert.Contains($"Rank {ranks - 1} was left out", refusal, StringComparison.Ordinal);
        buffer.LowLatencyCleanMaskBuffer();
        Assert.Equal(inputs.Reference(ranks, dead: -1), inputs.DispatchAndCombine(buffer));
        return refusal;
    }

    private static int[] Mask(EpBuffer buffer, int ranks)
    {
        using DeviceTensor mask = DeviceTensor.Empty(DType.Int32, [ranks]);
        buffer.LowLatencyQueryMaskBuffer(mask);
        return mask.ToArray<int>();
    }

    /// <summary>One rank's tokens, routing (two distinct experts per token) and weights; experts return their rows unchanged.</summary>
    private sealed class Inputs : IDisposable
    {
        private readonly BFloat16[] _x;
        private readonly long[] _topk;
        private readonly float[] _weights;

        public Inputs(int rank, int experts)
        {
            Experts = experts;
            var random = new Random(500 + rank);
            _x = [.. Enumerable.Range(0, Tokens * Hidden).Select(_ => BFloat16.FromFloat((float)((random.NextDouble() * 4) - 2)))];
            _topk = new long[Tokens * Topk];
            for (int t = 0; t < Tokens; t++)
            {
                _topk[t * Topk] = random.Next(experts);
                _topk[(t * Topk) + 1] = (_topk[t * Topk] + 1 + random.Next(experts - 1)) % experts;
            }
            _weights = [.. Enumerable.Range(0, Tokens * Topk).Select(_ => (float)random.NextDouble())];
            X = DeviceTensor.FromArray<BFloat16>(_x, [Tokens, Hidden]);
            TopkIdx = DeviceTensor.FromArray<long>(_topk, [Tokens, Topk]);
            TopkWeights = DeviceTensor.FromArray<float>(_weights, [Tokens, Topk]);
        }

        public int Experts { get; }

        public DeviceTensor X { get; }

        public DeviceTensor TopkIdx { get; }

        public DeviceTensor TopkWeights { get; }

        public BFloat16[] DispatchAndCombine(EpBuffer buffer)
        {
            using LowLatencyDispatchResult dispatched = buffer.LowLatencyDispatch(X, TopkIdx, Tokens, Experts, useFp8: false);
            using LowLatencyHandle handle = dispatched.Handle;
            using LowLatencyCombineResult combined = buffer.LowLatencyCombine(dispatched.PackedRecvX, TopkIdx, TopkWeights, handle);
            return combined.CombinedX.ToArray<BFloat16>();
        }

        /// <summary>The combine of identity experts, FMA in slot order, leaving out the experts of <paramref name="dead"/> (-1: none).</summary>
        public BFloat16[] Reference(int ranks, int dead)
        {
            int localExperts = Experts / ranks;
            var expected = new BFloat16[Tokens * Hidden];
            for (int t = 0; t < Tokens; t++)
            {
                for (int h = 0; h < Hidden; h++)
                {
                    float acc = 0;
                    for (int k = 0; k < Topk; k++)
                    {
                        if (_topk[(t * Topk) + k] / localExperts != dead)
                        {
                            acc = MathF.FusedMultiplyAdd(_x[(t * Hidden) + h].ToFloat(), _weights[(t * Topk) + k], acc);
                        }
                    }
                    expected[(t * Hidden) + h] = BFloat16.FromFloat(acc);
                }
            }
            return expected;
        }

        public void Dispose()
        {
            X.Dispose();
            TopkIdx.Dispose();
            TopkWeights.Dispose();
        }
    }
}

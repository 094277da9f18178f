using DeepEP.Ep;
using DeepEP.Tensors;

namespace DeepEP.Tests.Reliability;

/// <summary>
/// One rank's run through every step (layout, dispatch, combine, clean, low-latency dispatch and combine) on any
/// backend (tensors on the buffer's device, normal-mode calls with <paramref name="config"/> when given), with the
/// fault of a <see cref="FaultCase"/> injected when this is the faulty rank.
/// </summary>
internal sealed class FaultScript(FaultCase fault, int rank, EpConfig? config = null)
{
    public const int Tokens = 16;
    public const int Hidden = 128;
    public const int Topk = 2;

    /// <summary>Two experts per rank.</summary>
    public static int Experts(int ranks) => 2 * ranks;

    /// <summary>The step this rank was in when it stopped, and when that step started.</summary>
    public FaultStep Reached { get; private set; }

    public TimeSpan StepStarted { get; private set; }

    /// <summary>
    /// Runs the steps; a stalled or killed faulty rank calls <paramref name="park"/> instead of making its call (a thread
    /// waits there for its release; a process stops or kills itself).
    /// </summary>
    public void Run(EpBuffer buffer, FaultyGroup? faulty, System.Diagnostics.Stopwatch clock, Action park)
    {
        bool isFaulty = rank == fault.FaultyRank;
        int device = buffer.Device;
        int experts = Experts(buffer.GroupSize);
        long[] ids = Routing(rank, experts);
        using DeviceTensor topk = DeviceTensor.FromArray<long>(ids, [Tokens, Topk], device);
        using DeviceTensor weights = DeviceTensor.FromArray<float>(Enumerable.Repeat(0.5f, Tokens * Topk).ToArray(), [Tokens, Topk], device);

        using DispatchLayout layout = Enter(FaultStep.Layout, isFaulty, faulty, clock, park, () => buffer.GetDispatchLayout(topk, experts))!;
        using DeviceTensor x = Rows(Tokens, MyHidden(FaultStep.Dispatch, isFaulty), device);
        using DispatchResult received = Enter(FaultStep.Dispatch, isFaulty, faulty, clock, park, () => buffer.Dispatch(x,
            layout,
            topkIdx: topk, topkWeights: weights, config: config))!;
        using DispatchHandle handle = received.Handle!;
        using DeviceTensor expertOut = Rows(received.RecvX.Size(0), MyHidden(FaultStep.Combine, isFaulty), device);
        using CombineResult combined = Enter(FaultStep.Combine, isFaulty, faulty, clock, park, () => buffer.Combine(expertOut, handle, config: config))!;
        Enter(FaultStep.Clean, isFaulty, faulty, clock, park, () =>
        {
            buffer.CleanLowLatencyBuffer(Tokens, Hidden, experts);
            return 0;
        });
        using DeviceTensor llX = Rows(Tokens, MyHidden(FaultStep.LowLatencyDispatch, isFaulty), device);
        using LowLatencyDispatchResult dispatched = Enter(FaultStep.LowLatencyDispatch, isFaulty, faulty, clock, park,
            () => buffer.LowLatencyDispatch(llX, topk, Tokens, experts, useFp8: false))!;
        using LowLatencyHandle llHandle = dispatched.Handle;
        using LowLatencyCombineResult llCombined = Enter(FaultStep.LowLatencyCombine, isFaulty, faulty, clock, park,
            () => buffer.LowLatencyCombine(dispatched.PackedRecvX, topk, weights, llHandle))!;
    }

    private T? Enter<T>(FaultStep step, bool isFaulty, FaultyGroup? faulty, System.Diagnostics.Stopwatch clock, Action park, Func<T> call)
    {
        Reached = step;
        StepStarted = clock.Elapsed;
        if (isFaulty && step == fault.Step)
        {
            if (fault.Kind is FaultKind.Stall or FaultKind.Kill)
            {
                park();
                throw new OperationCanceledException($"Rank {rank} stalled at {step} and was released.");
            }
            if (fault.Kind == FaultKind.Throw)
            {
                // Without a group exchange to fail inside (the GPU backends communicate through device memory), the rank throws at its call.
                _ = faulty ?? throw new InjectedFaultException($"Injected fault on rank {rank} at {step}.");
                faulty.Arm();
            }
        }
        return call();
    }

    /// <summary>
    /// Waits for what this rank's kernels recorded: kernel timeouts are reported asynchronously by the next call, so
    /// on the kernels backend this waits for the device (each kernel ends at its deadline), then makes a local call
    /// that reports them.
    /// </summary>
    public static void Settle(EpBuffer buffer)
    {
        if (buffer.Backend == EpBackendKind.Kernels)
        {
            DeepEP.Cuda.CudaDevice.Get(buffer.Device).Synchronize();
        }
        using DeviceTensor topk = DeviceTensor.FromArray<long>([0, 1], [1, 2], buffer.Device);
        buffer.GetDispatchLayout(topk, Experts(buffer.GroupSize)).Dispose();
    }

    /// <summary>This rank's low-latency mask (1 for a masked rank); needs a buffer made with shrink.</summary>
    public static int[] Mask(EpBuffer buffer)
    {
        using DeviceTensor mask = DeviceTensor.Empty(DType.Int32, [buffer.GroupSize], buffer.Device);
        buffer.LowLatencyQueryMaskBuffer(mask);
        return mask.ToArray<int>();
    }

    private int MyHidden(FaultStep step, bool isFaulty) =>
        isFaulty && fault.Kind == FaultKind.MismatchedShape && fault.Step == step ? 2 * Hidden : Hidden;

    // Every token picks Topk distinct experts of all ranks, deterministically per rank.
    private static long[] Routing(int seedRank, int experts)
    {
        var random = new Random(1000 + seedRank);
        var ids = new long[Tokens * Topk];
        for (int t = 0; t < Tokens; t++)
        {
            long first = random.Next(experts);
            ids[t * Topk] = first;
            ids[(t * Topk) + 1] = (first + 1 + random.Next(experts - 1)) % experts;
        }
        return ids;
    }

    private DeviceTensor Rows(long rows, int hidden, int device)
    {
        var values = new BFloat16[rows * hidden];
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = BFloat16.FromFloat(((i + rank) % 7) - 3);
        }
        return DeviceTensor.FromArray<BFloat16>(values, [rows, hidden], device);
    }
}

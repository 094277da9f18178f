using DeepEP.Backends;
using DeepEP.Cuda;
using DeepEP.Ep.Heuristics;
using DeepEP.Tensors;

namespace DeepEP.Ep;

// Argument validation of the public operations: every rule runs before anything is launched or exchanged, so a bad
// argument is an exception on the calling rank only, never a hang or a crash on its peers.
public sealed partial class EpBuffer
{
    private void EnsureUsable() => ObjectDisposedException.ThrowIf(_destroyed, this);

    private void EnsureLowLatency()
    {
        EnsureUsable();
        if (!LowLatencyMode)
        {
            throw new InvalidOperationException("Low-latency operations need an EpBuffer created with lowLatencyMode: true.");
        }
    }

    private void EnsureShrink()
    {
        EnsureLowLatency();
        if (!Options.EnableShrink)
        {
            throw new InvalidOperationException("Rank masking needs EpBufferOptions.EnableShrink = true.");
        }
    }

    private static StreamOptions Streams(EventOverlap? previousEvent, bool asyncFinish, bool allocateOnCommStream)
    {
        TensorChecks.That(!allocateOnCommStream || (previousEvent is not null && asyncFinish), nameof(allocateOnCommStream),
            "allocateOnCommStream needs previousEvent and asyncFinish: true, so the caller can order later use of the outputs.");
        return new StreamOptions(previousEvent, asyncFinish, allocateOnCommStream, null);
    }

    private void CheckNumExperts(int numExperts, string name)
    {
        TensorChecks.That(numExperts > 0 && numExperts % GroupSize == 0, name, $"{name} ({numExperts}) must be a positive multiple of the group size {GroupSize}.");
        TensorChecks.That(numExperts / GroupSize <= MaxLocalExperts, name, $"{name} ({numExperts}) gives {numExperts / GroupSize} experts per rank; at most {MaxLocalExperts} are supported.");
    }

    private void CheckTopk(DeviceTensor topkIdx, string name, int numExperts, bool distinct = false)
    {
        TensorChecks.That(topkIdx.Size(1) is > 0 and <= MaxTopk, name, $"{name} has {topkIdx.Size(1)} top-k columns; 1 to {MaxTopk} are supported.");
        if (Options.ValidateExpertIds && !IsCapturing())
        {
            TensorChecks.RequireExpertIds(topkIdx, name, numExperts, distinct);
        }
    }

    /// <summary>True while the device's library stream is being captured into a CUDA graph (host copies are illegal then).</summary>
    private bool IsCapturing() => Device != DeviceTensor.HostDevice && CudaStream.ForDevice(Device).IsCapturing;

    private static void CheckConfig(EpConfig config)
    {
        TensorChecks.That(config.NumSms > 0 && config.NumSms % 2 == 0, nameof(config), $"config.NumSms ({config.NumSms}) must be even and positive: two blocks per channel.");
    }

    /// <summary>Checks x (and its scales) and returns the token count.</summary>
    private long CheckDispatchPayload(DeviceTensor x, DeviceTensor? xScales)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (x.DType is DType.Float8E4M3 or DType.Int8)
        {
            string kind = x.DType == DType.Int8 ? "INT8" : "FP8";
            TensorChecks.Require(x, nameof(x), x.DType, Device, [TensorChecks.AnySize, TensorChecks.AnySize]);
            TensorChecks.That(x.Size(1) % 16 == 0, nameof(x), $"{kind} rows must be a multiple of 16 bytes; H = {x.Size(1)}.");
            TensorChecks.That(xScales is not null, nameof(xScales), x.DType == DType.Int8
                ? "INT8 dispatch needs xScales ([T, S] Float32, e.g. [T, 1] from Int8Cast.PerTokenCast)."
                : "FP8 dispatch needs xScales ([T, S] Float32, or Int32 for UE8M0).");
            TensorChecks.That(xScales!.DType == DType.Float32 || (x.DType == DType.Float8E4M3 && xScales.DType == DType.Int32), nameof(xScales),
                x.DType == DType.Int8 ? $"INT8 xScales must be Float32; got {xScales.Describe()}." : $"xScales must be Float32 or Int32 (UE8M0); got {xScales.Describe()}.");
            TensorChecks.Require(xScales, nameof(xScales), xScales.DType, Device, [x.Size(0), TensorChecks.AnySize], allowStrided: true);
            return x.Size(0);
        }
        TensorChecks.That(xScales is null, nameof(xScales), "xScales applies to FP8 (Float8E4M3) or INT8 (Int8) x only.");
        TensorChecks.That(x.DType == DType.BFloat16, nameof(x), $"x must be BFloat16, or Float8E4M3 / Int8 with xScales; got {x.Describe()}.");
        TensorChecks.Require(x, nameof(x), DType.BFloat16, Device, [TensorChecks.AnySize, TensorChecks.AnySize]);
        TensorChecks.That(x.Size(1) * 2 % 16 == 0, nameof(x), $"BF16 rows must be a multiple of 16 bytes (H a multiple of 8); H = {x.Size(1)}.");
        return x.Size(0);
    }

    private int CheckLayout(DeviceTensor? numTokensPerRank, DeviceTensor? isTokenInRank, DeviceTensor? numTokensPerExpert, long tokens)
    {
        TensorChecks.That(numTokensPerRank is not null || isTokenInRank is not null || numTokensPerExpert is not null, nameof(numTokensPerRank),
            "Dispatch needs either the layout tensors (numTokensPerRank, isTokenInRank, numTokensPerExpert from GetDispatchLayout) "
            + "or the handle of an earlier dispatch (a cached dispatch: handle: result.Handle).");
        TensorChecks.Require(numTokensPerRank, nameof(numTokensPerRank), DType.Int32, Device, [GroupSize]);
        TensorChecks.Require(isTokenInRank, nameof(isTokenInRank), DType.Bool, Device, [TensorChecks.AnySize, GroupSize]);
        TensorChecks.Require(numTokensPerExpert, nameof(numTokensPerExpert), DType.Int32, Device, [TensorChecks.AnySize]);
        // The layout describes T tokens; x is the argument that disagrees with it.
        TensorChecks.That(isTokenInRank!.Size(0) == tokens, "x",
            $"x has {tokens} rows but the layout (isTokenInRank) is for {isTokenInRank.Size(0)} tokens; pass the x whose topkIdx the layout was computed from.");
        int numExperts = checked((int)numTokensPerExpert!.Size(0));
        CheckNumExperts(numExperts, nameof(numTokensPerExpert));
        if (numTokensPerExpert.IsHost || (Options.ValidateExpertIds && !IsCapturing()))
        {
            TensorChecks.RequireNonNegative(numTokensPerExpert.ToArray<int>(), nameof(numTokensPerExpert));
        }
        if (numTokensPerRank!.IsHost || (Options.ValidateExpertIds && !IsCapturing()))
        {
            TensorChecks.RequireNonNegative(numTokensPerRank.ToArray<int>(), nameof(numTokensPerRank));
        }
        if (isTokenInRank.IsHost && numTokensPerRank.IsHost)
        {
            // Receivers wait for exactly the advertised counts, so a mismatch would only surface as a timeout.
            bool[] inRank = isTokenInRank.ToArray<bool>();
            int[] perRank = numTokensPerRank.ToArray<int>();
            for (int d = 0; d < GroupSize; d++)
            {
                int count = 0;
                for (long t = 0; t < tokens; t++)
                {
                    count += inRank[(t * GroupSize) + d] ? 1 : 0;
                }
                TensorChecks.That(count == perRank[d], nameof(numTokensPerRank),
                    $"numTokensPerRank[{d}] = {perRank[d]} but isTokenInRank marks {count} tokens for rank {d}; pass both from GetDispatchLayout.");
            }
        }
        return numExperts;
    }

    private void CheckHandle(DispatchHandle handle, EpConfig config, long tokens)
    {
        foreach (DeviceTensor tensor in (DeviceTensor[])[handle.RankPrefixMatrix, handle.ChannelPrefixMatrix, handle.RecvChannelPrefixMatrix,
            handle.RecvSrcIdx, handle.IsTokenInRank, handle.SendHead])
        {
            TensorChecks.RequireAlive(tensor, nameof(handle));
        }
        TensorChecks.That(handle.NumChannels == config.NumChannels, nameof(config),
            $"The handle was made with {handle.NumChannels * 2} SMs but config uses {config.NumSms}; use the dispatch's SM count.");
        TensorChecks.That(handle.RankPrefixMatrix.Size(0) == GroupSize && handle.SendHead.Size(1) == GroupSize, nameof(handle),
            $"The handle belongs to a group of {handle.RankPrefixMatrix.Size(0)} ranks, not this buffer's {GroupSize}.");
        TensorChecks.That(handle.SendHead.Size(0) == tokens, nameof(handle), $"The handle was made for {handle.SendHead.Size(0)} tokens but x has {tokens}.");
        TensorChecks.That(handle.SendHead.Device == Device, nameof(handle), $"The handle lives on {TensorChecks.DeviceName(handle.SendHead.Device)}, not this buffer's {TensorChecks.DeviceName(Device)}.");
    }

    private void CheckNvlCapacity() =>
        TensorChecks.That(NumNvlBytes >= BufferSizeHints.NvlBufferBytes, "numNvlBytes",
            $"This EpBuffer was created with numNvlBytes = {NumNvlBytes}; normal mode needs {BufferSizeHints.NvlBufferBytes} (EpConfig.GetNvlBufferSizeHint).");

    private void CheckLowLatencyShape(int numMaxDispatchTokensPerRank, int hidden, int numExperts)
    {
        TensorChecks.That(numMaxDispatchTokensPerRank > 0, nameof(numMaxDispatchTokensPerRank), $"numMaxDispatchTokensPerRank ({numMaxDispatchTokensPerRank}) must be positive.");
        TensorChecks.That(hidden > 0 && hidden % BufferSizeHints.ChannelsPerScale == 0, nameof(hidden), $"The hidden size ({hidden}) must be a positive multiple of 128.");
        CheckNumExperts(numExperts, nameof(numExperts));
        long needed = BufferSizeHints.LowLatencySizeHint(numMaxDispatchTokensPerRank, hidden, GroupSize, numExperts);
        TensorChecks.That(NumRdmaBytes >= needed, nameof(numMaxDispatchTokensPerRank),
            $"numRdmaBytes ({NumRdmaBytes}) is too small for N = {numMaxDispatchTokensPerRank}, H = {hidden}, E = {numExperts}: it needs {needed} (EpBuffer.GetLowLatencyRdmaSizeHint).");
    }
}

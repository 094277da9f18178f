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

    /// <summary>
    /// DeepEP's stream arguments plus the caller's stream (its current stream), checked: a stream must be on this
    /// buffer's device, and <c>allocateOnCommStream</c> needs the event and <c>asyncFinish</c> to order later use.
    /// </summary>
    private StreamOptions Streams(EventOverlap? previousEvent, bool asyncFinish, bool allocateOnCommStream, CudaStream? stream)
    {
        CheckStream(stream);
        TensorChecks.That(!allocateOnCommStream || (previousEvent is not null && asyncFinish), nameof(allocateOnCommStream),
            "allocateOnCommStream needs previousEvent and asyncFinish: true, so the caller can order later use of the outputs.");
        return new StreamOptions(previousEvent, asyncFinish, allocateOnCommStream, stream);
    }

    private void CheckStream(CudaStream? stream)
    {
        if (stream is null || stream.Device == Device)
        {
            return;
        }
        throw new ArgumentException(Device == DeviceTensor.HostDevice
            ? $"This EpBuffer uses the {Backend} backend, which runs on the host and takes no CUDA stream; got a stream of cuda:{stream.Device}. Pass stream: null."
            : $"stream belongs to cuda:{stream.Device} but this EpBuffer's tensors are on cuda:{Device}; pass a stream of cuda:{Device} (or null for the library stream).", nameof(stream));
    }

    private void CheckNumExperts(int numExperts, string name)
    {
        TensorChecks.That(numExperts > 0 && numExperts % GroupSize == 0, name, $"{name} ({numExperts}) must be a positive multiple of the group size {GroupSize}.");
        TensorChecks.That(numExperts / GroupSize <= MaxLocalExperts, name, $"{name} ({numExperts}) gives {numExperts / GroupSize} experts per rank; at most {MaxLocalExperts} are supported.");
    }

    private void CheckTopk(DeviceTensor topkIdx, string name, int numExperts, CudaStream? stream, bool distinct = false)
    {
        TensorChecks.That(topkIdx.Size(1) is > 0 and <= MaxTopk, name, $"{name} has {topkIdx.Size(1)} top-k columns; 1 to {MaxTopk} are supported.");
        if (Options.ValidateExpertIds && !IsCapturing(stream))
        {
            TensorChecks.RequireExpertIds(topkIdx, name, numExperts, distinct);
        }
    }

    /// <summary>True while the caller's stream (null: the device's library stream) is being captured into a CUDA graph (host copies are illegal then).</summary>
    private bool IsCapturing(CudaStream? stream) => Device != DeviceTensor.HostDevice && (stream ?? CudaStream.ForDevice(Device)).IsCapturing;

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
                $"{(x.DType == DType.Int8 ? "INT8 xScales must be Float32" : "xScales must be Float32 or Int32 (UE8M0)")}; got {xScales.Describe()}.");
            TensorChecks.Require(xScales, nameof(xScales), xScales.DType, Device, [x.Size(0), TensorChecks.AnySize], allowStrided: true);
            return x.Size(0);
        }
        TensorChecks.That(xScales is null, nameof(xScales), "xScales applies to FP8 (Float8E4M3) or INT8 (Int8) x only.");
        TensorChecks.That(x.DType == DType.BFloat16, nameof(x), $"x must be BFloat16, or Float8E4M3 / Int8 with xScales; got {x.Describe()}.");
        TensorChecks.Require(x, nameof(x), DType.BFloat16, Device, [TensorChecks.AnySize, TensorChecks.AnySize]);
        TensorChecks.That(x.Size(1) * 2 % 16 == 0, nameof(x), $"BF16 rows must be a multiple of 16 bytes (H a multiple of 8); H = {x.Size(1)}.");
        return x.Size(0);
    }

    /// <summary>Checks the layout tensors against x's <paramref name="tokens"/> and each other; returns E. Errors name <c>layout.Part</c>.</summary>
    private int CheckLayout(DispatchLayout layout, long tokens, CudaStream? stream)
    {
        ArgumentNullException.ThrowIfNull(layout);
        const string PerRank = $"{nameof(layout)}.{nameof(DispatchLayout.NumTokensPerRank)}";
        const string InRank = $"{nameof(layout)}.{nameof(DispatchLayout.IsTokenInRank)}";
        const string PerExpert = $"{nameof(layout)}.{nameof(DispatchLayout.NumTokensPerExpert)}";
        TensorChecks.That(layout.NumTokensPerRdmaRank is null, $"{nameof(layout)}.{nameof(DispatchLayout.NumTokensPerRdmaRank)}",
            "layout.NumTokensPerRdmaRank applies to internode dispatch only; it must be null within one NVLink domain.");
        DeviceTensor perRank = TensorChecks.Require(layout.NumTokensPerRank, PerRank, DType.Int32, Device, [GroupSize]);
        DeviceTensor inRank = TensorChecks.Require(layout.IsTokenInRank, InRank, DType.Bool, Device, [TensorChecks.AnySize, GroupSize]);
        DeviceTensor perExpert = TensorChecks.Require(layout.NumTokensPerExpert, PerExpert, DType.Int32, Device, [TensorChecks.AnySize]);
        // The layout describes T tokens; x is the argument that disagrees with it.
        TensorChecks.That(inRank.Size(0) == tokens, "x",
            $"x has {tokens} rows but the layout (IsTokenInRank) is for {inRank.Size(0)} tokens; pass the x whose topkIdx the layout was computed from.");
        int numExperts = checked((int)perExpert.Size(0));
        CheckNumExperts(numExperts, PerExpert);
        bool readDevice = Options.ValidateExpertIds && !IsCapturing(stream);
        if (perExpert.IsHost || readDevice)
        {
            TensorChecks.RequireNonNegative(perExpert.ToArray<int>(), PerExpert);
        }
        if (perRank.IsHost || readDevice)
        {
            TensorChecks.RequireNonNegative(perRank.ToArray<int>(), PerRank);
        }
        if (inRank.IsHost && perRank.IsHost)
        {
            // Receivers wait for exactly the advertised counts, so a mismatch would only surface as a timeout.
            bool[] marked = inRank.ToArray<bool>();
            int[] counts = perRank.ToArray<int>();
            for (int d = 0; d < GroupSize; d++)
            {
                int count = 0;
                for (long t = 0; t < tokens; t++)
                {
                    count += marked[(t * GroupSize) + d] ? 1 : 0;
                }
                TensorChecks.That(count == counts[d], PerRank,
                    $"{PerRank}[{d}] = {counts[d]} but layout.IsTokenInRank marks {count} tokens for rank {d}; pass a layout from GetDispatchLayout.");
            }
        }
        return numExperts;
    }

    private void CheckHandle(DispatchHandle handle, EpConfig config, long tokens)
    {
        ExpertExpansion? expansion = handle.Expansion;
        foreach (DeviceTensor tensor in (DeviceTensor[])[handle.RankPrefixMatrix, handle.ChannelPrefixMatrix, handle.RecvChannelPrefixMatrix,
            handle.RecvSrcIdx, handle.IsTokenInRank, handle.SendHead, .. expansion is null ? [] : (DeviceTensor[])[expansion.NumRecvTokensPerExpert,
            expansion.PsumNumRecvTokensPerExpert, expansion.SrcRowSlot, expansion.ExpandedRowOf]])
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
        TensorChecks.That(hidden > 0 && hidden % Fp8Cast.ChannelsPerScale == 0, nameof(hidden), $"The hidden size ({hidden}) must be a positive multiple of 128.");
        CheckNumExperts(numExperts, nameof(numExperts));
        long needed = BufferSizeHints.LowLatencySizeHint(numMaxDispatchTokensPerRank, hidden, GroupSize, numExperts);
        TensorChecks.That(NumRdmaBytes >= needed, nameof(numMaxDispatchTokensPerRank),
            $"numRdmaBytes ({NumRdmaBytes}) is too small for N = {numMaxDispatchTokensPerRank}, H = {hidden}, E = {numExperts}: it needs {needed} (EpBuffer.GetLowLatencyRdmaSizeHint).");
    }
}

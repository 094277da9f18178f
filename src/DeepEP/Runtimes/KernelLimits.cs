namespace DeepEP.Runtimes;

/// <summary>
/// Every compile-time constant the kernels and the host share, in one place: each is passed to NVRTC as the define
/// named in its summary (<see cref="KernelDefines"/>) and <c>static_assert</c>ed against the header's constant, so a
/// drift fails the compile. The FP8 scale grouping is <see cref="Tensors.Fp8Cast.ChannelsPerScale"/> and
/// <see cref="Tensors.Fp8Cast.ScalesPerUe8m0Word"/> (a lower layer), passed the same way.
/// </summary>
internal static class KernelLimits
{
    /// <summary>Most ranks in one NVLink domain the kernels address, one warp lane per rank (<c>DEEPEP_MAX_RANKS</c>).</summary>
    public const int MaxRanks = 32;

    /// <summary>Most local experts per rank (<c>DEEPEP_MAX_LOCAL_EXPERTS</c>).</summary>
    public const int MaxLocalExperts = 1024;

    /// <summary>Most channels, SMs / 2 (<c>DEEPEP_MAX_CHANNELS</c>).</summary>
    public const int MaxChannels = 128;

    /// <summary>64-bit words of the per-call pointer mailbox in each rank's header (<c>DEEPEP_MAILBOX_WORDS</c>).</summary>
    public const int MailboxWords = 8;

    /// <summary>Most top-k slots per token: the API's limit and the low-latency combine's per-token slots (<c>DEEPEP_MAX_TOPK</c>).</summary>
    public const int MaxTopk = 32;

    /// <summary>Bytes of the <c>CommHeader</c> at the start of every rank's communication buffer (<c>DEEPEP_COMM_HEADER_SIZE</c>).</summary>
    public const int CommHeaderBytes = ((MaxRanks + (MaxRanks * MaxRanks) + (MaxRanks * MaxLocalExperts) + (MaxRanks * MaxChannels) + 2) * sizeof(int))
        + (MailboxWords * sizeof(long));

    /// <summary>Threads per block of every low-latency kernel (<c>DEEPEP_LOW_LATENCY_THREADS</c>).</summary>
    public const int LowLatencyThreads = 512;

    /// <summary>Where the per-source 64-bit shape stamps start in a low-latency set's signal area, after one int signal per rank (<c>DEEPEP_LOW_LATENCY_SHAPE_STAMPS_OFFSET</c>).</summary>
    public const int LowLatencyShapeStampsOffset = MaxRanks * sizeof(int);

    /// <summary>Warps per low-latency block.</summary>
    public const int LowLatencyWarps = LowLatencyThreads / 32;

    /// <summary>Blocks per SM the low-latency kernels are built for (<c>DEEPEP_LOW_LATENCY_BLOCKS_PER_SM</c>): grids of per-expert kernels stay in one wave up to twice the SM count.</summary>
    public const int LowLatencyBlocksPerSm = 2;

    /// <summary>Warps per block of the normal-mode dispatch copy kernel (<c>DEEPEP_DISPATCH_WARPS</c>).</summary>
    public const int DispatchWarps = 16;

    /// <summary>Warps per block of the normal-mode combine kernel (<c>DEEPEP_COMBINE_WARPS</c>).</summary>
    public const int CombineWarps = 16;

    /// <summary>Warps per block of the NCCL staging kernels (<c>DEEPEP_STAGING_WARPS</c>).</summary>
    public const int StagingWarps = 8;

    /// <summary>Warps per block of the NCCL low-latency kernels (<c>DEEPEP_NCCL_LOW_LATENCY_WARPS</c>).</summary>
    public const int NcclLowLatencyWarps = 8;

    /// <summary>Warps per block of the FP8 cast kernel (<c>DEEPEP_FP8_CAST_WARPS</c>).</summary>
    public const int Fp8CastWarps = 8;

    /// <summary>Most 128-channel groups of a LogFMT-10 row: H up to 32768 (<c>DEEPEP_LOGFMT_MAX_GROUPS</c>).</summary>
    public const int LogFmtMaxGroups = 256;

    /// <summary>Threads per block of the LogFMT-10 codec kernels (<c>DEEPEP_LOGFMT_THREADS</c>).</summary>
    public const int LogFmtThreads = 256;

    /// <summary>Threads per block of the INT8 cast kernel, one block per token (<c>DEEPEP_INT8_CAST_THREADS</c>).</summary>
    public const int Int8CastThreads = 256;

    /// <summary>Threads per block of the expanded-layout kernels (<c>DEEPEP_EXPANSION_THREADS</c>).</summary>
    public const int ExpansionThreads = 512;

    /// <summary>Output rows per block of the fused MoE grouped GEMM (<c>DEEPEP_GEMM_TILE_ROWS</c>).</summary>
    public const int GemmTileRows = 64;

    /// <summary>Output columns per block of the fused MoE grouped GEMM; n must be a multiple (<c>DEEPEP_GEMM_TILE_COLS</c>).</summary>
    public const int GemmTileCols = 64;

    /// <summary>Threads per block of the fused MoE grouped GEMM: one warpgroup on Hopper (wgmma), else one warp per 32 × 32 sub-tile (<c>DEEPEP_GEMM_THREADS</c>).</summary>
    public const int GemmThreads = 128;

    /// <summary>K tiles of the grouped GEMM in flight per block, each 128 bytes of K of the A and B tiles (<c>DEEPEP_GEMM_STAGES</c>).</summary>
    public const int GemmStages = 4;

    /// <summary>Dynamic shared memory of a grouped GEMM block: every stage's A and B rows of 128 bytes of K plus 16 of padding (mma.sync); wgmma's unpadded, swizzled stages and their 1 KiB alignment fit in it (<c>DEEPEP_GEMM_SHARED_BYTES</c>).</summary>
    public const int GemmSharedBytes = GemmStages * (GemmTileRows + GemmTileCols) * (128 + 16);

    /// <summary>Threads per block of the SwiGLU + re-quantisation kernel (<c>DEEPEP_SWIGLU_QUANT_THREADS</c>).</summary>
    public const int SwigluQuantThreads = 256;

    /// <summary>Threads per block of the 128 × 128 block FP8 weight cast, one block per tile (<c>DEEPEP_FP8_BLOCK_CAST_THREADS</c>).</summary>
    public const int Fp8BlockCastThreads = 256;
}

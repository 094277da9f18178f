namespace DeepEP.Runtimes;

/// <summary>Compile-time limits shared with <c>deep_ep/impls/comm_header.cuh</c>.</summary>
internal static class KernelLimits
{
    /// <summary>Most ranks in one NVLink domain the kernels address (one warp lane per rank).</summary>
    public const int MaxRanks = 32;

    /// <summary>Most local experts per rank.</summary>
    public const int MaxLocalExperts = 1024;

    /// <summary>Most channels (SMs / 2).</summary>
    public const int MaxChannels = 128;

    /// <summary>Bytes of the <c>CommHeader</c> at the start of every rank's communication buffer.</summary>
    public const int CommHeaderBytes = ((MaxRanks + (MaxRanks * MaxRanks) + (MaxRanks * MaxLocalExperts) + (MaxRanks * MaxChannels)) * sizeof(int))
        + (MailboxWords * sizeof(long));

    /// <summary>64-bit words of the per-call pointer mailbox in each rank's header.</summary>
    public const int MailboxWords = 8;
}

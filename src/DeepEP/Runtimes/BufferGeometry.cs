namespace DeepEP.Runtimes;

/// <summary>The alignment and FP8 scale grouping every communication buffer is laid out with.</summary>
internal static class BufferGeometry
{
    /// <summary>Alignment of every buffer size.</summary>
    public const int Alignment = 128;

    /// <summary>Bytes of the header at the start of every rank's normal-mode buffer (<see cref="KernelLimits.CommHeaderBytes"/>, aligned).</summary>
    public static long HeaderBytes => AlignUp(KernelLimits.CommHeaderBytes, Alignment);

    /// <summary>Rounds <paramref name="value"/> up to a multiple of <paramref name="alignment"/>.</summary>
    public static long AlignUp(long value, long alignment) => (value + alignment - 1) / alignment * alignment;
}

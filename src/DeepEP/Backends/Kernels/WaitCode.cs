namespace DeepEP.Backends.Kernels;

/// <summary>Twin of the <c>kWait*</c> codes kernels write into <c>KernelDiagnostics::what</c>.</summary>
internal static class WaitCode
{
    public const int Barrier = 1;
    public const int RecvCapacity = 2;
    public const int MissingTopkWeights = 3;
    public const int LowLatencyDispatch = 4;
    public const int LowLatencyCombine = 5;
    public const int LowLatencyRecvCapacity = 6;

    public static string Describe(int code) => code switch
    {
        Barrier => "barrier",
        RecvCapacity => "receive capacity",
        LowLatencyDispatch => "low-latency dispatch receive",
        LowLatencyCombine => "low-latency combine receive",
        _ => $"wait {code}",
    };
}

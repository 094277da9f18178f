namespace DeepEP.Cuda;

/// <summary>
/// No usable GPU stack: a native library (CUDA driver, NVRTC, NCCL) was not found, or the driver reports no device.
/// The message lists every place searched, in order.
/// </summary>
public sealed class GpuUnavailableException : Exception
{
    /// <summary>Creates the exception with an empty search record.</summary>
    public GpuUnavailableException()
        : this("No CUDA GPU is available.")
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    public GpuUnavailableException(string message)
        : this(message, [])
    {
    }

    /// <summary>Creates the exception with a message and an inner exception.</summary>
    public GpuUnavailableException(string message, Exception innerException)
        : base(message, innerException)
    {
        Searched = [];
    }

    /// <summary>Creates the exception with a message and the places searched.</summary>
    public GpuUnavailableException(string message, IReadOnlyList<string> searched)
        : base(message)
    {
        Searched = searched;
    }

    /// <summary>The places tried, in order (empty when the failure was not a search).</summary>
    public IReadOnlyList<string> Searched { get; }
}

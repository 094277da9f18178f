using DeepEP.Interop;

namespace DeepEP.Cuda;

/// <summary>A CUDA driver call failed. The message names the API, the driver's error name and text, and the call site.</summary>
public sealed class CudaException : NativeCallException
{
    /// <summary>Creates the exception with a default message.</summary>
    public CudaException()
        : base("A CUDA driver call failed.")
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    public CudaException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and an inner exception.</summary>
    public CudaException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates the exception for one failed call (see <see cref="NativeCallException"/>).</summary>
    public CudaException(int errorCode, string apiName, string errorName, string errorText, string callSite)
        : base(errorCode, apiName, errorName, errorText, callSite)
    {
    }
}

using DeepEP.Interop;

namespace DeepEP.Jit;

/// <summary>An NVRTC call failed (other than a compile error, which is a <see cref="KernelCompilationException"/>).</summary>
public sealed class NvrtcException : NativeCallException
{
    /// <summary>Creates the exception with a default message.</summary>
    public NvrtcException()
        : base("An NVRTC call failed.")
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    public NvrtcException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and an inner exception.</summary>
    public NvrtcException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates the exception for one failed call (see <see cref="NativeCallException"/>).</summary>
    public NvrtcException(int errorCode, string apiName, string errorName, string errorText, string callSite)
        : base(errorCode, apiName, errorName, errorText, callSite)
    {
    }
}

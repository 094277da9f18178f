using DeepEP.Interop;

namespace DeepEP.Distributed;

/// <summary>An NCCL call failed. The message names the API, NCCL's error name and text, and the call site.</summary>
public sealed class NcclException : NativeCallException
{
    /// <summary>Creates the exception with a default message.</summary>
    public NcclException()
        : base("An NCCL call failed.")
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    public NcclException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and an inner exception.</summary>
    public NcclException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates the exception for one failed call (see <see cref="NativeCallException"/>).</summary>
    public NcclException(int errorCode, string apiName, string errorName, string errorText, string callSite)
        : base(errorCode, apiName, errorName, errorText, callSite)
    {
    }
}

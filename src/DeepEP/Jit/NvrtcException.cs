namespace DeepEP.Jit;

/// <summary>An NVRTC call failed (other than a compile error, which is a <see cref="KernelCompilationException"/>).</summary>
public sealed class NvrtcException : Exception
{
    /// <summary>Creates the exception with a default message.</summary>
    public NvrtcException()
        : this("An NVRTC call failed.")
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    public NvrtcException(string message)
        : base(message)
    {
        ApiName = ErrorName = ErrorText = CallSite = "";
    }

    /// <summary>Creates the exception with a message and an inner exception.</summary>
    public NvrtcException(string message, Exception innerException)
        : base(message, innerException)
    {
        ApiName = ErrorName = ErrorText = CallSite = "";
    }

    /// <summary>Creates the exception for one failed call.</summary>
    /// <param name="errorCode">The <c>nvrtcResult</c> value.</param>
    /// <param name="apiName">The NVRTC function.</param>
    /// <param name="errorName">NVRTC's name for the error, e.g. <c>NVRTC_ERROR_INVALID_OPTION</c>.</param>
    /// <param name="errorText">What the error means.</param>
    /// <param name="callSite">The source expression of the call.</param>
    public NvrtcException(int errorCode, string apiName, string errorName, string errorText, string callSite)
        : base($"{apiName} failed with {errorName} ({errorCode}): {errorText}. Call: {callSite}")
    {
        ErrorCode = errorCode;
        ApiName = apiName;
        ErrorName = errorName;
        ErrorText = errorText;
        CallSite = callSite;
    }

    /// <summary>The <c>nvrtcResult</c> value.</summary>
    public int ErrorCode { get; }

    /// <summary>The NVRTC function that failed.</summary>
    public string ApiName { get; }

    /// <summary>NVRTC's name for the error.</summary>
    public string ErrorName { get; }

    /// <summary>What the error means.</summary>
    public string ErrorText { get; }

    /// <summary>The source expression of the failed call.</summary>
    public string CallSite { get; }
}

namespace DeepEP.Interop;

/// <summary>
/// A call into a native library (CUDA driver, NVRTC, NCCL) failed. The message names the API, the library's error
/// name and text, and the call site; the subclasses say which library.
/// </summary>
public abstract class NativeCallException : Exception
{
    // RS0027 (PublicApiAnalyzers): the optional innerException predates the API baseline, which records the public
    // surface as it is; changing this overload set is a breaking change for a later release.
#pragma warning disable RS0027
    /// <summary>Creates the exception with a message only.</summary>
    protected NativeCallException(string message, Exception? innerException = null)
        : base(message, innerException)
    {
        ApiName = ErrorName = ErrorText = CallSite = "";
    }
#pragma warning restore RS0027

    /// <summary>Creates the exception for one failed call.</summary>
    /// <param name="errorCode">The library's status value.</param>
    /// <param name="apiName">The function that failed, e.g. <c>cuMemAlloc_v2</c>.</param>
    /// <param name="errorName">The library's name for the error, e.g. <c>CUDA_ERROR_OUT_OF_MEMORY</c>.</param>
    /// <param name="errorText">The library's description.</param>
    /// <param name="callSite">The source expression of the call.</param>
    protected NativeCallException(int errorCode, string apiName, string errorName, string errorText, string callSite)
        : base($"{apiName} failed with {errorName} ({errorCode}): {errorText}. Call: {callSite}")
    {
        ErrorCode = errorCode;
        ApiName = apiName;
        ErrorName = errorName;
        ErrorText = errorText;
        CallSite = callSite;
    }

    /// <summary>The library's status value.</summary>
    public int ErrorCode { get; }

    /// <summary>The function that failed.</summary>
    public string ApiName { get; }

    /// <summary>The library's name for the error.</summary>
    public string ErrorName { get; }

    /// <summary>The library's description of the error.</summary>
    public string ErrorText { get; }

    /// <summary>The source expression of the failed call.</summary>
    public string CallSite { get; }
}

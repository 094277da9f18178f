namespace DeepEP.Cuda;

/// <summary>A CUDA driver call failed. The message names the API, the driver's error name and text, and the call site.</summary>
public sealed class CudaException : Exception
{
    /// <summary>Creates the exception with a message only.</summary>
    public CudaException()
        : this("A CUDA driver call failed.")
    {
    }

    /// <summary>Creates the exception with a message only.</summary>
    public CudaException(string message)
        : base(message)
    {
        ApiName = ErrorName = ErrorText = CallSite = "";
    }

    /// <summary>Creates the exception with a message and an inner exception.</summary>
    public CudaException(string message, Exception innerException)
        : base(message, innerException)
    {
        ApiName = ErrorName = ErrorText = CallSite = "";
    }

    /// <summary>Creates the exception for one failed call.</summary>
    /// <param name="errorCode">The <c>CUresult</c> value.</param>
    /// <param name="apiName">The driver function, e.g. <c>cuMemAlloc_v2</c>.</param>
    /// <param name="errorName">The driver's name for the error, e.g. <c>CUDA_ERROR_OUT_OF_MEMORY</c>.</param>
    /// <param name="errorText">The driver's description.</param>
    /// <param name="callSite">The source expression of the call.</param>
    public CudaException(int errorCode, string apiName, string errorName, string errorText, string callSite)
        : base($"{apiName} failed with {errorName} ({errorCode}): {errorText}. Call: {callSite}")
    {
        ErrorCode = errorCode;
        ApiName = apiName;
        ErrorName = errorName;
        ErrorText = errorText;
        CallSite = callSite;
    }

    /// <summary>The <c>CUresult</c> value.</summary>
    public int ErrorCode { get; }

    /// <summary>The driver function that failed.</summary>
    public string ApiName { get; }

    /// <summary>The driver's name for the error.</summary>
    public string ErrorName { get; }

    /// <summary>The driver's description of the error.</summary>
    public string ErrorText { get; }

    /// <summary>The source expression of the failed call.</summary>
    public string CallSite { get; }
}

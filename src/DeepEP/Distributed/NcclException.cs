namespace DeepEP.Distributed;

/// <summary>An NCCL call failed. The message names the API, NCCL's error name and text (with its last-error detail), and the call site.</summary>
public sealed class NcclException : Exception
{
    /// <summary>Creates the exception with a default message.</summary>
    public NcclException()
        : this("An NCCL call failed.")
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    public NcclException(string message)
        : base(message)
    {
        ApiName = ErrorName = ErrorText = CallSite = "";
    }

    /// <summary>Creates the exception with a message and an inner exception.</summary>
    public NcclException(string message, Exception innerException)
        : base(message, innerException)
    {
        ApiName = ErrorName = ErrorText = CallSite = "";
    }

    /// <summary>Creates the exception for one failed call.</summary>
    /// <param name="errorCode">The <c>ncclResult_t</c> value.</param>
    /// <param name="apiName">The NCCL function.</param>
    /// <param name="errorName">The result's name, e.g. <c>ncclUnhandledCudaError</c>.</param>
    /// <param name="errorText">NCCL's description, plus <c>ncclGetLastError</c> when it has one.</param>
    /// <param name="callSite">The source expression of the call.</param>
    public NcclException(int errorCode, string apiName, string errorName, string errorText, string callSite)
        : base($"{apiName} failed with {errorName} ({errorCode}): {errorText}. Call: {callSite}")
    {
        ErrorCode = errorCode;
        ApiName = apiName;
        ErrorName = errorName;
        ErrorText = errorText;
        CallSite = callSite;
    }

    /// <summary>The <c>ncclResult_t</c> value.</summary>
    public int ErrorCode { get; }

    /// <summary>The NCCL function that failed.</summary>
    public string ApiName { get; }

    /// <summary>The result's name.</summary>
    public string ErrorName { get; }

    /// <summary>NCCL's description of the error.</summary>
    public string ErrorText { get; }

    /// <summary>The source expression of the failed call.</summary>
    public string CallSite { get; }
}

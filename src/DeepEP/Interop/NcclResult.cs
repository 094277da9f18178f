namespace DeepEP.Interop;

/// <summary>NCCL's <c>ncclResult_t</c>.</summary>
internal enum NcclResult
{
    Success = 0,
    UnhandledCudaError = 1,
    SystemError = 2,
    InternalError = 3,
    InvalidArgument = 4,
    InvalidUsage = 5,
    RemoteError = 6,
    InProgress = 7,
}

using System.Runtime.InteropServices;
using DeepEP.NativeLibraries;

namespace DeepEP.Interop;

/// <summary>
/// NCCL (<c>libnccl.so.2</c>). Communicators (<c>ncclComm_t</c>) and streams (<c>cudaStream_t</c>, the same
/// object as a driver <c>CUstream</c>) are <see cref="nint"/>; NCCL uses the CUDA context current on the thread.
/// </summary>
internal static partial class Nccl
{
    /// <summary>The name the declarations bind to; <see cref="NativeLibraryResolver"/> maps it to a file.</summary>
    public const string Library = NativeLibraryResolver.NcclLibraryName;

    static Nccl() => NativeLibraryResolver.Register();

    [LibraryImport(Library)]
    public static partial NcclResult ncclGetVersion(out int version);

    [LibraryImport(Library)]
    public static partial NcclResult ncclGetUniqueId(out NcclUniqueId uniqueId);

    [LibraryImport(Library)]
    public static partial NcclResult ncclCommInitRank(out nint communicator, int numRanks, NcclUniqueId uniqueId, int rank);

    [LibraryImport(Library)]
    public static partial NcclResult ncclCommInitRankConfig(out nint communicator, int numRanks, NcclUniqueId uniqueId, int rank, in NcclConfig config);

    [LibraryImport(Library)]
    public static partial NcclResult ncclCommFinalize(nint communicator);

    [LibraryImport(Library)]
    public static partial NcclResult ncclCommDestroy(nint communicator);

    [LibraryImport(Library)]
    public static partial NcclResult ncclCommCount(nint communicator, out int count);

    [LibraryImport(Library)]
    public static partial NcclResult ncclCommUserRank(nint communicator, out int rank);

    [LibraryImport(Library)]
    public static partial NcclResult ncclCommCuDevice(nint communicator, out int device);

    [LibraryImport(Library)]
    public static partial NcclResult ncclCommAbort(nint communicator);

    [LibraryImport(Library)]
    public static partial NcclResult ncclCommGetAsyncError(nint communicator, out NcclResult asyncError);

    [LibraryImport(Library)]
    public static partial NcclResult ncclGroupStart();

    [LibraryImport(Library)]
    public static partial NcclResult ncclGroupEnd();

    [LibraryImport(Library)]
    public static partial NcclResult ncclSend(nint sendBuffer, nuint count, NcclDataType dataType, int peer, nint communicator, nint stream);

    [LibraryImport(Library)]
    public static partial NcclResult ncclRecv(nint receiveBuffer, nuint count, NcclDataType dataType, int peer, nint communicator, nint stream);

    [LibraryImport(Library)]
    public static partial NcclResult ncclAllGather(nint sendBuffer, nint receiveBuffer, nuint sendCount, NcclDataType dataType, nint communicator, nint stream);

    [LibraryImport(Library)]
    public static partial NcclResult ncclAllReduce(nint sendBuffer, nint receiveBuffer, nuint count, NcclDataType dataType, NcclReductionOp op, nint communicator, nint stream);

    [LibraryImport(Library)]
    public static partial nint ncclGetErrorString(NcclResult result);

    [LibraryImport(Library)]
    public static partial nint ncclGetLastError(nint communicator);
}

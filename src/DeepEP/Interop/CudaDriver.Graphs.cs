using System.Runtime.InteropServices;

namespace DeepEP.Interop;

internal static partial class CudaDriver
{
    [LibraryImport(Library)]
    public static partial CuResult cuGraphInstantiateWithFlags(out nint graphExec, nint graph, ulong flags);

    [LibraryImport(Library)]
    public static partial CuResult cuGraphLaunch(nint graphExec, nint stream);

    [LibraryImport(Library)]
    public static partial CuResult cuGraphExecDestroy(nint graphExec);

    [LibraryImport(Library)]
    public static partial CuResult cuGraphDestroy(nint graph);
}

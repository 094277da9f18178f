using System.Runtime.InteropServices;

namespace DeepEP.Interop;

internal static partial class CudaDriver
{
    /// <summary><c>CU_EVENT_DISABLE_TIMING</c>.</summary>
    public const uint EventDisableTiming = 0x2;

    /// <summary><c>CU_EVENT_INTERPROCESS</c> (requires <see cref="EventDisableTiming"/>).</summary>
    public const uint EventInterprocess = 0x4;

    [LibraryImport(Library)]
    public static partial CuResult cuEventCreate(out nint @event, uint flags);

    [LibraryImport(Library)]
    public static partial CuResult cuEventRecord(nint @event, nint stream);

    [LibraryImport(Library)]
    public static partial CuResult cuEventSynchronize(nint @event);

    [LibraryImport(Library)]
    public static partial CuResult cuEventQuery(nint @event);

    [LibraryImport(Library)]
    public static partial CuResult cuEventElapsedTime(out float milliseconds, nint start, nint end);

    [LibraryImport(Library)]
    public static partial CuResult cuEventDestroy_v2(nint @event);
}

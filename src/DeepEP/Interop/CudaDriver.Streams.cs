using System.Runtime.InteropServices;

namespace DeepEP.Interop;

internal static partial class CudaDriver
{
    /// <summary><c>CU_STREAM_NON_BLOCKING</c>: no implicit synchronisation with the legacy NULL stream.</summary>
    public const uint StreamNonBlocking = 0x1;

    /// <summary><c>CU_STREAM_CAPTURE_MODE_THREAD_LOCAL</c>.</summary>
    public const int StreamCaptureModeThreadLocal = 1;

    [LibraryImport(Library)]
    public static partial CuResult cuStreamCreateWithPriority(out nint stream, uint flags, int priority);

    [LibraryImport(Library)]
    public static partial CuResult cuStreamSynchronize(nint stream);

    [LibraryImport(Library)]
    public static partial CuResult cuStreamQuery(nint stream);

    [LibraryImport(Library)]
    public static partial CuResult cuStreamDestroy_v2(nint stream);

    [LibraryImport(Library)]
    public static partial CuResult cuStreamWaitEvent(nint stream, nint @event, uint flags);

    [LibraryImport(Library)]
    public static partial CuResult cuStreamBeginCapture_v2(nint stream, int mode);

    [LibraryImport(Library)]
    public static partial CuResult cuStreamEndCapture(nint stream, out nint graph);

    /// <summary><c>CU_STREAM_CAPTURE_STATUS_NONE</c>: the stream is not being captured.</summary>
    public const int StreamCaptureStatusNone = 0;

    [LibraryImport(Library)]
    public static partial CuResult cuStreamIsCapturing(nint stream, out int captureStatus);
}

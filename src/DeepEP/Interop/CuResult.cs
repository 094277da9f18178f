namespace DeepEP.Interop;

/// <summary>The CUDA driver's <c>CUresult</c> (the values the library tests for by name; others pass through as numbers).</summary>
internal enum CuResult
{
    Success = 0,
    InvalidValue = 1,
    OutOfMemory = 2,
    NotInitialized = 3,
    Deinitialized = 4,
    StubLibrary = 34,
    InsufficientDriver = 35,
    NoDevice = 100,
    InvalidDevice = 101,
    InvalidImage = 200,
    InvalidContext = 201,
    PeerAccessUnsupported = 217,
    InvalidHandle = 400,
    NotFound = 500,
    NotReady = 600,
    IllegalAddress = 700,
    LaunchOutOfResources = 701,
    PeerAccessAlreadyEnabled = 704,
    PeerAccessNotEnabled = 705,
    CooperativeLaunchTooLarge = 720,
    StreamCaptureUnsupported = 900,
    Unknown = 999,
}

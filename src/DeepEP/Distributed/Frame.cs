namespace DeepEP.Distributed;

/// <summary>One received frame: its type, its small header (decoded by <see cref="WireFormat"/>) and its payloads.</summary>
/// <param name="Type">What the frame carries.</param>
/// <param name="Header">Type-specific fields.</param>
/// <param name="Payloads">Bulk data, each received straight into its own array.</param>
/// <param name="StartTimestamp"><see cref="System.Diagnostics.Stopwatch"/> timestamp at which the frame began to arrive.</param>
internal sealed record Frame(FrameType Type, byte[] Header, byte[][] Payloads, long StartTimestamp);

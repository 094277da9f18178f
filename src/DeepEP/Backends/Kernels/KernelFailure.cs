using DeepEP.Ep;
using DeepEP.Runtimes;

namespace DeepEP.Backends.Kernels;

/// <summary>Turns the record a kernel left in its diagnostics block into the exception the caller sees.</summary>
internal static class KernelFailure
{
    /// <summary>
    /// The exception for a complete <paramref name="record"/>: an <see cref="InvalidOperationException"/> for a failure
    /// that is not a wait (capacity, missing weights), else a <see cref="CommunicationTimeoutException"/>.
    /// </summary>
    /// <param name="record">The record; <see cref="KernelDiagnostics.IsComplete"/> must be true.</param>
    /// <param name="call">The call that found the record (e.g. "combine"); the kernel that waited belongs to it or to an earlier call.</param>
    /// <param name="crossesProcesses">Whether some peer is in another process (a receive arena can then be too small).</param>
    /// <param name="lowLatencyState">Describes this rank's low-latency state, appended to low-latency timeouts; or null.</param>
    public static Exception ToException(in KernelDiagnostics record, string call, bool crossesProcesses, Func<string>? lowLatencyState)
    {
        switch (record.What)
        {
            case WaitCode.MissingTopkWeights:
                return new InvalidOperationException($"Rank {record.PeerRank} passed no topkWeights to combine while rank {record.Rank} did: every rank must pass them, or none.");
            case WaitCode.LowLatencyRecvCapacity:
                return new InvalidOperationException(
                    $"Local expert {record.Channel} of rank {record.Rank} was selected {record.Seen} times in one low-latency dispatch, more than its R*N = {record.Expected} packed rows (a top-k row repeats an expert). The dispatch was not completed.");
            case WaitCode.RecvCapacity:
                string cause = crossesProcesses
                    ? $"numWorstTokens is smaller than the real receive count, or rank {record.PeerRank}'s receive arena (numNvlBytes) is too small for this dispatch or has no free slot (that rank's error says which, and the fix)"
                    : "numWorstTokens is smaller than the real receive count";
                return new InvalidOperationException(
                    $"Rank {record.Rank} had to write row {record.Seen} of rank {record.PeerRank}'s outputs, which hold {record.Expected} rows: {cause}. Nothing was written past the end.");
            case WaitCode.MismatchedShape:
                return new InvalidOperationException(
                    $"Rank {record.PeerRank} called {call} (or the normal-mode call before it) with {RowShape.Describe(record.Seen)}, rank {record.Rank} with {RowShape.Describe(record.Expected)}: every rank must pass the same hidden size, dtype, scales and top-k. Nothing was exchanged.");
            case WaitCode.LowLatencyMismatchedShape:
                return new InvalidOperationException(
                    $"Rank {record.PeerRank}'s low-latency dispatch, found by {call}, does not match rank {record.Rank}'s: every rank must pass the same hidden size, top-k, number of experts, numMaxDispatchTokensPerRank and useFp8. Nothing was received.");
            default:
                string? detail = record.What is WaitCode.LowLatencyDispatch or WaitCode.LowLatencyCombine ? lowLatencyState?.Invoke() : null;
                return new CommunicationTimeoutException($"{call} ({record.WaitName})", record.Rank, record.PeerRank, record.Channel, record.Expected, record.Seen, record.Waited, detail);
        }
    }
}

using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using DeepEP.Backends.Kernels;
using DeepEP.Ep;
using DeepEP.Jit;
using DeepEP.Runtimes;

namespace DeepEP.Tests.Backends;

/// <summary>The diagnostics block as the host reads it: the twin's layout, the codes, and the exception each record becomes.</summary>
public sealed partial class KernelFailureTests
{
    [Fact]
    public void TheTwinMatchesTheHeader()
    {
        Assert.Equal(KernelDiagnostics.Size, Marshal.SizeOf<KernelDiagnostics>());
        Assert.Equal(16, (int)Marshal.OffsetOf<KernelDiagnostics>(nameof(KernelDiagnostics.What)));
        Assert.Equal(24, (int)Marshal.OffsetOf<KernelDiagnostics>(nameof(KernelDiagnostics.Expected)));
        Assert.Equal(40, (int)Marshal.OffsetOf<KernelDiagnostics>(nameof(KernelDiagnostics.ElapsedNs)));
        Assert.Contains(KernelDefines.All, d => d.Key == "DEEPEP_KERNEL_DIAGNOSTICS_SIZE" && d.Value == "48");
        Assert.Contains("DEEPEP_CHECK_PARAMS_SIZE(KernelDiagnostics, DEEPEP_KERNEL_DIAGNOSTICS_SIZE);", Header, StringComparison.Ordinal);
    }

    [Fact]
    public void EveryCodeOfTheHeaderIsAWaitCodeOfTheSameValue()
    {
        Dictionary<string, int> codes = CodePattern().Matches(Header).ToDictionary(m => m.Groups[1].Value, m => int.Parse(m.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(Enum.GetValues<WaitCode>().Length - 1, codes.Count);
        foreach ((string name, int value) in codes)
        {
            Assert.Equal(value, (int)Enum.Parse<WaitCode>(name.StartsWith("Wait", StringComparison.Ordinal) ? name[4..] : name));
        }
    }

    [Fact]
    public void ABlockIsReadByField()
    {
        byte[] block = Block(WaitCode.LowLatencyCombine, rank: 3, peer: 5, channel: 7, expected: 11, seen: 9, elapsedNs: 2_500_000_000);
        KernelDiagnostics record = KernelDiagnostics.Read(block);
        Assert.True(record.IsComplete);
        Assert.Equal((3, 5, 7, WaitCode.LowLatencyCombine, 11L, 9L), (record.Rank, record.PeerRank, record.Channel, record.What, record.Expected, record.Seen));
        Assert.Equal(TimeSpan.FromSeconds(2.5), record.Waited);
        Assert.False(KernelDiagnostics.Read(new byte[KernelDiagnostics.Size]).IsComplete);
    }

    [Fact]
    public void ATimeoutNamesTheCallAndTheWaitAndAppendsTheLowLatencyState()
    {
        var e = Assert.IsType<CommunicationTimeoutException>(
            KernelFailure.ToException(KernelDiagnostics.Read(Block(WaitCode.LowLatencyDispatch, 1, 2, 0, 4, 3, 1_500_000_000)), "low-latency dispatch", false, () => "epochs [4, 3]"));
        Assert.Equal("DeepEP low-latency dispatch (low-latency dispatch receive) timed out on rank 1 after 1.5 s waiting for rank 2 (channel/slot 0): expected 4, saw 3. A peer may have died, or the ranks issued different operations. epochs [4, 3]", e.Message);
        Assert.Equal("low-latency dispatch (low-latency dispatch receive)", e.Operation);

        var barrier = Assert.IsType<CommunicationTimeoutException>(
            KernelFailure.ToException(KernelDiagnostics.Read(Block(WaitCode.Barrier, 0, 1, -1, 7, 6, 100_000_000_000)), "combine", false, () => "not used"));
        Assert.Equal("DeepEP combine (barrier) timed out on rank 0 after 100.0 s waiting for rank 1: expected 7, saw 6. A peer may have died, or the ranks issued different operations.", barrier.Message);
        Assert.Equal("dispatch (wait 42)", Assert.IsType<CommunicationTimeoutException>(KernelFailure.ToException(KernelDiagnostics.Read(Block((WaitCode)42, 0, 1, -1, 1, 0, 0)), "dispatch", false, null)).Operation);
    }

    [Fact]
    public void FailuresThatAreNotWaitsAreInvalidOperations()
    {
        Assert.Equal(
            "Rank 2 passed no topkWeights to combine while rank 0 did: every rank must pass them, or none.",
            Message(Block(WaitCode.MissingTopkWeights, 0, 2, -1, 1, 0, 0), crossesProcesses: false));
        Assert.Equal(
            "Local expert 3 of rank 1 was selected 17 times in one low-latency dispatch, more than its R*N = 16 packed rows (a top-k row repeats an expert). The dispatch was not completed.",
            Message(Block(WaitCode.LowLatencyRecvCapacity, 1, -1, 3, 16, 17, 0), crossesProcesses: false));
        byte[] capacity = Block(WaitCode.RecvCapacity, 0, 1, 12, 10, 10, 0);
        Assert.Equal(
            "Rank 0 had to write row 10 of rank 1's outputs, which hold 10 rows: numWorstTokens is smaller than the real receive count. Nothing was written past the end.",
            Message(capacity, crossesProcesses: false));
        Assert.Equal(
            "Rank 0 had to write row 10 of rank 1's outputs, which hold 10 rows: numWorstTokens is smaller than the real receive count, or rank 1's receive arena (numNvlBytes) is too small for this dispatch or has no free slot (that rank's error says which, and the fix). Nothing was written past the end.",
            Message(capacity, crossesProcesses: true));
        long here = RowShape.Pack(rowWords: 896, numScales: 56, numTopk: 8), there = RowShape.Pack(rowWords: 1792, numScales: 0, numTopk: 8);
        Assert.Equal(
            "Rank 1 called dispatch (or the normal-mode call before it) with rows of 28672 bytes, 0 scales, top-k 8, rank 0 with rows of 14336 bytes, 56 scales, top-k 8: every rank must pass the same hidden size, dtype, scales and top-k. Nothing was exchanged.",
            Message(Block(WaitCode.MismatchedShape, 0, 1, -1, here, there, 0), crossesProcesses: false));
        Assert.Equal(
            "Rank 3's low-latency dispatch, found by dispatch, does not match rank 2's: every rank must pass the same hidden size, top-k, number of experts, numMaxDispatchTokensPerRank and useFp8. Nothing was received.",
            Message(Block(WaitCode.LowLatencyMismatchedShape, 2, 3, -1, 5L << 32, 4L << 32, 0), crossesProcesses: false));
    }

    [Fact]
    public void ARowShapePacksWithinItsFieldsAndRefusesWhatDoesNotFit()
    {
        Assert.Equal(896L | (56L << 32) | (8L << 48), RowShape.Pack(896, 56, 8));
        Assert.Equal("rows of 14336 bytes, 56 scales, top-k 8", RowShape.Describe(RowShape.Pack(896, 56, 8)));
        Assert.Throws<ArgumentOutOfRangeException>(() => RowShape.Pack(1L << 32, 0, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => RowShape.Pack(1, 0x10000, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => RowShape.Pack(1, 0, -1));
    }

    private static string Header => KernelSourceTree.Headers.Single(h => h.IncludeName == "deep_ep/common/diagnostics.cuh").Content;

    private static string Message(byte[] block, bool crossesProcesses) =>
        Assert.IsType<InvalidOperationException>(KernelFailure.ToException(KernelDiagnostics.Read(block), "dispatch", crossesProcesses, null)).Message;

    /// <summary>A block as a kernel writes it: six ints, then expected, seen and the elapsed nanoseconds.</summary>
    private static byte[] Block(WaitCode what, int rank, int peer, int channel, long expected, long seen, ulong elapsedNs)
    {
        byte[] block = new byte[KernelDiagnostics.Size];
        Span<int> ints = MemoryMarshal.Cast<byte, int>(block.AsSpan(0, 24));
        (ints[0], ints[1], ints[2], ints[3], ints[4]) = (1, rank, peer, channel, (int)what);
        Span<long> longs = MemoryMarshal.Cast<byte, long>(block.AsSpan(24));
        (longs[0], longs[1], longs[2]) = (expected, seen, (long)elapsedNs);
        return block;
    }

    [GeneratedRegex(@"constexpr int k(\w+) = (\d+);")]
    private static partial Regex CodePattern();
}

using System.Runtime.InteropServices;
using DeepEP.Runtimes;

namespace DeepEP.Tests.Runtimes;

/// <summary>
/// The normal dispatch parameter blocks keep the C++ layout: <c>DispatchParams</c> and <c>NcclPackParams</c> derive
/// from <c>DispatchSource</c>, so the source sits at offset 0 and their own members follow at its size. NVRTC checks
/// only the sizes; these are the offsets the C++ structs have (the header's members in order, no padding).
/// </summary>
public sealed class DispatchSourceLayoutTests
{
    [Theory]
    [InlineData(nameof(DispatchSource.X), 0)]
    [InlineData(nameof(DispatchSource.XScales), 8)]
    [InlineData(nameof(DispatchSource.TopkIdx), 16)]
    [InlineData(nameof(DispatchSource.TopkWeights), 24)]
    [InlineData(nameof(DispatchSource.IsTokenInRank), 32)]
    [InlineData(nameof(DispatchSource.SendHead), 40)]
    [InlineData(nameof(DispatchSource.ChannelPrefixMatrix), 48)]
    [InlineData(nameof(DispatchSource.ScaleTokenStride), 56)]
    [InlineData(nameof(DispatchSource.ScaleGroupStride), 64)]
    [InlineData(nameof(DispatchSource.NumTokens), 72)]
    [InlineData(nameof(DispatchSource.NumScales), 76)]
    [InlineData(nameof(DispatchSource.NumTopk), 80)]
    [InlineData(nameof(DispatchSource.ExpertsPerRank), 84)]
    public void TheSourceHasTheHeadersLayout(string field, int offset)
    {
        Assert.Equal(88, Marshal.SizeOf<DispatchSource>());
        Assert.Equal(offset, (int)Marshal.OffsetOf<DispatchSource>(field));
    }

    [Theory]
    [InlineData(nameof(IntranodeDispatchParams.Source), 0)]
    [InlineData(nameof(IntranodeDispatchParams.Headers), 88)]
    [InlineData(nameof(IntranodeDispatchParams.PeerDeltas), 344)]
    [InlineData(nameof(IntranodeDispatchParams.RankPrefixMatrix), 600)]
    [InlineData(nameof(IntranodeDispatchParams.Diagnostics), 608)]
    [InlineData(nameof(IntranodeDispatchParams.Mailbox), 616)]
    [InlineData(nameof(IntranodeDispatchParams.TimeoutNs), 680)]
    [InlineData(nameof(IntranodeDispatchParams.NumRanks), 688)]
    [InlineData(nameof(IntranodeDispatchParams.Rank), 692)]
    [InlineData(nameof(IntranodeDispatchParams.NumChannels), 696)]
    [InlineData(nameof(IntranodeDispatchParams.Epoch), 700)]
    public void TheIntranodeDispatchParametersFollowTheSource(string field, int offset)
    {
        Assert.Equal(704, Marshal.SizeOf<IntranodeDispatchParams>());
        Assert.Equal(offset, (int)Marshal.OffsetOf<IntranodeDispatchParams>(field));
    }

    [Theory]
    [InlineData(nameof(NcclPackParams.Source), 0)]
    [InlineData(nameof(NcclPackParams.StagedX), 88)]
    [InlineData(nameof(NcclPackParams.StagedXScales), 96)]
    [InlineData(nameof(NcclPackParams.StagedSrcIdx), 104)]
    [InlineData(nameof(NcclPackParams.StagedTopkIdx), 112)]
    [InlineData(nameof(NcclPackParams.StagedTopkWeights), 120)]
    [InlineData(nameof(NcclPackParams.NumRanks), 128)]
    [InlineData(nameof(NcclPackParams.NumChannels), 132)]
    [InlineData(nameof(NcclPackParams.RowWords), 136)]
    [InlineData(nameof(NcclPackParams.Reserved), 140)]
    public void TheNcclPackParametersFollowTheSource(string field, int offset)
    {
        Assert.Equal(144, Marshal.SizeOf<NcclPackParams>());
        Assert.Equal(offset, (int)Marshal.OffsetOf<NcclPackParams>(field));
    }
}

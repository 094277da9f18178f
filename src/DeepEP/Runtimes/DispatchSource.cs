using System.Runtime.InteropServices;

namespace DeepEP.Runtimes;

/// <summary>
/// Twin of <c>deep_ep::DispatchSource</c> (<c>common/dispatch_source.cuh</c>): the tokens a normal-mode dispatch sends
/// and their routing, the first member of <see cref="IntranodeDispatchParams"/> and <see cref="NcclPackParams"/> (their
/// C++ structs derive from it, so it sits at offset 0 in both).
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal struct DispatchSource
{
    public nint X;
    public nint XScales;
    public nint TopkIdx;
    public nint TopkWeights;
    public nint IsTokenInRank;
    public nint SendHead;
    public nint ChannelPrefixMatrix;
    public long ScaleTokenStride;
    public long ScaleGroupStride;
    public int NumTokens;
    public int NumScales;
    public int NumTopk;
    public int ExpertsPerRank;
}

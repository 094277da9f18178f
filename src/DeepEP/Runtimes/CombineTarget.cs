using System.Runtime.InteropServices;

namespace DeepEP.Runtimes;

/// <summary>
/// Twin of <c>deep_ep::CombineTarget</c> (<c>common/combine_target.cuh</c>): what a normal-mode combine writes on its
/// rank and the dispatch layout that places it, the first member of <see cref="IntranodeCombineParams"/> and
/// <see cref="NcclReduceParams"/> (their C++ structs derive from it, so it sits at offset 0 in both).
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal struct CombineTarget
{
    public nint IsTokenInRank;
    public nint SendHead;
    public nint ChannelPrefixMatrix;
    public nint Bias0;
    public nint Bias1;
    public nint CombinedX;
    public nint CombinedTopkWeights;
    public int NumTokens;
    public int NumRanks;
    public int NumChannels;
    public int NumTopk;
}

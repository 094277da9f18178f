namespace DeepEP.Ep;

/// <summary>
/// What normal-mode <see cref="DispatchResult.NumRecvTokensPerExpertList"/> holds (DeepEP-Ascend's
/// <c>MOE_EXPERT_TOKEN_NUMS_TYPE</c>; the numeric values are that variable's).
/// </summary>
public enum ExpertTokenNumsType
{
    /// <summary>The inclusive prefix sums of the per-expert counts (<c>MOE_EXPERT_TOKEN_NUMS_TYPE=0</c>).</summary>
    PrefixSums = 0,

    /// <summary>Tokens received per local expert (<c>MOE_EXPERT_TOKEN_NUMS_TYPE=1</c>, the default).</summary>
    Counts = 1,
}

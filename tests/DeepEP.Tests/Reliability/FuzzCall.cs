using CsCheck;
using DeepEP.Tensors;

namespace DeepEP.Tests.Reliability;

/// <summary>The public operations the property test drives.</summary>
public enum FuzzOperation
{
    Layout,
    Dispatch,
    CachedDispatch,
    Combine,
    Clean,
    LowLatency,
    NextCombineBuffer,
    Mask,
}

/// <summary>
/// One random call: shapes, dtypes and values drawn around the valid region (negative, zero, odd and too large sizes,
/// every dtype, out-of-range expert ids, negative counts, disposed arguments), on a one-rank host buffer.
/// </summary>
public sealed record FuzzCall(
    FuzzOperation Operation,
    int Tokens,
    int Hidden,
    DType XType,
    int Experts,
    int Topk,
    long[] Ids,
    int MaxTokens,
    int CountOffset,
    int Disposed,
    int RankArgument,
    int Seed)
{
    public static readonly Gen<FuzzCall> Generator =
        from operation in Gen.Enum<FuzzOperation>()
        from tokens in Gen.Int[0, 6]
        from hidden in Gen.OneOf(0, 8, 12, 64, 128, 200, 256, 384)
        from xType in Gen.Frequency((4, Gen.Const(DType.BFloat16)), (1, Gen.Enum<DType>()))
        from experts in Gen.Frequency((6, Gen.OneOf(1, 2, 4, 8)), (1, Gen.Int[-1, 9]))
        from topk in Gen.Frequency((6, Gen.Int[1, 3]), (1, Gen.Int[0, 40]))
        from ids in Gen.Frequency((6, Gen.Long[-1, 7]), (1, Gen.Long[-3, 12])).Array[tokens * topk]
        from maxTokens in Gen.Frequency((6, Gen.Int[6, 8]), (1, Gen.Int[-1, 5]))
        from countOffset in Gen.Frequency((6, Gen.Const(0)), (1, Gen.Int[-20, 2]))
        from disposed in Gen.Frequency((6, Gen.Const(0)), (1, Gen.Int[1, 4]))
        from rankArgument in Gen.Int[-1, 1]
        from seed in Gen.Int
        select new FuzzCall(operation, tokens, hidden, xType, experts, topk, ids, maxTokens, countOffset, disposed, rankArgument, seed);
}

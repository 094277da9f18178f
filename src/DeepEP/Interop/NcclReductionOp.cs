namespace DeepEP.Interop;

/// <summary>NCCL's <c>ncclRedOp_t</c> (the built-in operations).</summary>
internal enum NcclReductionOp
{
    Sum = 0,
    Product = 1,
    Max = 2,
    Min = 3,
    Average = 4,
}

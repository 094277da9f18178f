namespace DeepEP.Interop;

/// <summary>NCCL's <c>ncclDataType_t</c>.</summary>
internal enum NcclDataType
{
    Int8 = 0,
    UInt8 = 1,
    Int32 = 2,
    UInt32 = 3,
    Int64 = 4,
    UInt64 = 5,
    Float16 = 6,
    Float32 = 7,
    Float64 = 8,
    BFloat16 = 9,
}

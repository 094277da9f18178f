using DeepEP.Tensors;

namespace DeepEP.Tests.Gpu.Normal;

/// <summary>Fills a large block of each device's pool with 0xFF and returns it, so outputs the library allocates next start as garbage, not zeros.</summary>
internal static class PoolPoison
{
    private const long Bytes = 1L << 30;

    public static void Fill(int devices)
    {
        for (int d = 0; d < devices; d++)
        {
            using DeviceTensor block = DeviceTensor.Empty(DType.UInt8, [Bytes], d);
            block.FillBytes(0xFF);
        }
    }
}

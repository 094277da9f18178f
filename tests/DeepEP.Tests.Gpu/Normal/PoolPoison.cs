using DeepEP.Cuda;
using DeepEP.Tensors;

namespace DeepEP.Tests.Gpu.Normal;

/// <summary>Fills a large block of every device's pool with 0xFF and returns it, so outputs the library allocates next start as garbage, not zeros.</summary>
internal static class PoolPoison
{
    private const long Bytes = 1L << 30;

    public static void Fill()
    {
        for (int d = 0; d < CudaDevice.Count; d++)
        {
            using (DeviceTensor block = DeviceTensor.Empty(DType.UInt8, [Bytes], d))
            {
                block.FillBytes(0xFF);
            }
            // After the free, so the pool knows the block is free and can hand it to any rank's stream, instead of
            // growing while ranks' kernels run.
            CudaStream.ForDevice(d).Synchronize();
        }
    }
}

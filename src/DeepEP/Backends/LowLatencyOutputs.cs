using DeepEP.Cuda;
using DeepEP.Tensors;

namespace DeepEP.Backends;

/// <summary>
/// The outputs of a GPU low-latency dispatch (spec §5.3), carved from one pool allocation: the host cost of a call
/// is mostly allocations and launches.
/// </summary>
/// <param name="PackedRecvX"><c>[E_l, R*N, H]</c> FP8 or BF16.</param>
/// <param name="PackedRecvXScales">FP8 only: <c>[E_l, R*N, S]</c> Float32 (UE8M0: Int32 <c>S/4</c> columns), strides <c>(S*R*N, 1, R*N)</c>.</param>
/// <param name="PackedRecvCount"><c>[E_l]</c> Int32.</param>
/// <param name="SrcInfo"><c>[E_l, R*N]</c> Int32.</param>
/// <param name="LayoutRange"><c>[E_l, R]</c> Int64.</param>
internal sealed record LowLatencyOutputs(DeviceTensor PackedRecvX, DeviceTensor? PackedRecvXScales, DeviceTensor PackedRecvCount, DeviceTensor SrcInfo, DeviceTensor LayoutRange)
{
    public static LowLatencyOutputs Allocate(int device, CudaStream stream, LowLatencyDispatchRequest request, int numRanks)
    {
        int localExperts = request.NumExperts / numRanks;
        long rows = (long)numRanks * request.NumMaxDispatchTokensPerRank;
        long hidden = request.X.Size(1);
        long numScales = hidden / Fp8Cast.ChannelsPerScale;
        long scaleColumns = request.UseUe8m0 ? numScales / Fp8Cast.ScalesPerUe8m0Word : numScales;
        var shapes = new (DType, long[], long[]?)[request.UseFp8 ? 5 : 4];
        shapes[0] = (request.UseFp8 ? DType.Float8E4M3 : DType.BFloat16, [localExperts, rows, hidden], null);
        shapes[1] = (DType.Int32, [localExperts], null);
        shapes[2] = (DType.Int32, [localExperts, rows], null);
        shapes[3] = (DType.Int64, [localExperts, numRanks], null);
        if (request.UseFp8)
        {
            shapes[4] = (request.UseUe8m0 ? DType.Int32 : DType.Float32, [localExperts, rows, scaleColumns], [scaleColumns * rows, 1, rows]);
        }
        DeviceTensor[] outputs = DeviceTensor.EmptyGroup(device, stream, shapes);
        return new LowLatencyOutputs(outputs[0], request.UseFp8 ? outputs[4] : null, outputs[1], outputs[2], outputs[3]);
    }
}

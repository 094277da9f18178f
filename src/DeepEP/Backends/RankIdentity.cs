using System.Buffers.Binary;
using System.Text;
using DeepEP.Cuda;
using DeepEP.Distributed;

namespace DeepEP.Backends;

/// <summary>
/// Where one rank runs: its process (host and id) and its GPU (UUID, unique across processes; ordinal in its process;
/// SM count).
/// </summary>
internal sealed record RankIdentity(string Process, Guid Gpu, int Device, int Sms)
{
    /// <summary>This process on <paramref name="device"/>.</summary>
    public static RankIdentity Of(CudaDevice device) =>
        new($"{Environment.MachineName}/{Environment.ProcessId}", device.Uuid, device.Ordinal, device.MultiprocessorCount);

    /// <summary>Every rank's identity, indexed by rank; collective.</summary>
    public static RankIdentity[] AllGather(ProcessGroup group, CudaDevice device) =>
        group.AllGather(Of(device).ToBytes()).Select(FromBytes).ToArray();

    public bool SameProcess(RankIdentity other) => Process == other.Process;

    public string Describe() => $"cuda:{Device} ({Gpu}) of process {Process}";

    public bool SameGpu(RankIdentity other) => Gpu == other.Gpu;

    /// <summary>16 bytes of UUID, the ordinal and the SM count as 4 little-endian bytes each, then the process as UTF-8.</summary>
    public byte[] ToBytes()
    {
        byte[] process = Encoding.UTF8.GetBytes(Process);
        var bytes = new byte[24 + process.Length];
        Gpu.TryWriteBytes(bytes.AsSpan(0, 16));
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(16, 4), Device);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(20, 4), Sms);
        process.CopyTo(bytes, 24);
        return bytes;
    }

    public static RankIdentity FromBytes(byte[] bytes) =>
        new(Encoding.UTF8.GetString(bytes, 24, bytes.Length - 24), new Guid(bytes.AsSpan(0, 16)),
            BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(16, 4)), BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(20, 4)));
}

namespace DeepEP.Runtimes;

/// <summary>
/// The part of its GPU one rank's kernels may hold: <see cref="Sms"/> SMs, and whether other ranks of the group run on
/// the same GPU. Kernels that wait for other ranks must all be resident at once, so each rank keeps to its share.
/// </summary>
internal readonly record struct GpuShare(int Sms, bool Shared)
{
    /// <summary>
    /// Launch waiting kernels cooperatively only on a GPU of their own: beside another rank's waiting kernels the driver
    /// holds a cooperative launch back until they finish, which they never do (measured on an H200: the ranks' waits
    /// time out). On a shared GPU the grid limits below keep every rank's blocks resident instead.
    /// </summary>
    public bool Cooperative => !Shared;

    /// <summary>Blocks per SM for a kernel that fits <paramref name="occupancy"/> per SM: all of them alone, one when shared (room for the other ranks' small kernels).</summary>
    public int BlocksPerSm(int occupancy) => Shared ? 1 : Math.Max(1, occupancy);
}

namespace DeepEP.Cuda;

/// <summary>A device's compute capability, e.g. 9.0 for Hopper.</summary>
/// <param name="Major">Major version (9 on H100/H200).</param>
/// <param name="Minor">Minor version.</param>
public readonly record struct ComputeCapability(int Major, int Minor) : IComparable<ComputeCapability>
{
    /// <summary>
    /// The NVRTC target: <c>sm_XY</c>, with the architecture-specific <c>a</c> suffix from 9.0 on (<c>sm_90a</c>),
    /// which unlocks wgmma, TMA multicast and the other features the kernels may use.
    /// </summary>
    public string NvrtcArchitecture => $"sm_{Major}{Minor}{(Major >= 9 ? "a" : "")}";

    /// <inheritdoc />
    public int CompareTo(ComputeCapability other) => Major != other.Major ? Major.CompareTo(other.Major) : Minor.CompareTo(other.Minor);

    /// <summary>True when <paramref name="left"/> is older than <paramref name="right"/>.</summary>
    public static bool operator <(ComputeCapability left, ComputeCapability right) => left.CompareTo(right) < 0;

    /// <summary>True when <paramref name="left"/> is newer than <paramref name="right"/>.</summary>
    public static bool operator >(ComputeCapability left, ComputeCapability right) => left.CompareTo(right) > 0;

    /// <summary>True when <paramref name="left"/> is not newer than <paramref name="right"/>.</summary>
    public static bool operator <=(ComputeCapability left, ComputeCapability right) => left.CompareTo(right) <= 0;

    /// <summary>True when <paramref name="left"/> is not older than <paramref name="right"/>.</summary>
    public static bool operator >=(ComputeCapability left, ComputeCapability right) => left.CompareTo(right) >= 0;

    /// <inheritdoc />
    public override string ToString() => $"{Major}.{Minor}";
}

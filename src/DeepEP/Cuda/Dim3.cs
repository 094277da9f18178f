namespace DeepEP.Cuda;

/// <summary>A grid, block or cluster shape.</summary>
/// <param name="X">Extent in x (≥ 1).</param>
/// <param name="Y">Extent in y (≥ 1).</param>
/// <param name="Z">Extent in z (≥ 1).</param>
internal readonly record struct Dim3(uint X, uint Y = 1, uint Z = 1)
{
    /// <summary>A one-dimensional shape.</summary>
    public static implicit operator Dim3(int x) => new(checked((uint)x));

    /// <summary>X · Y · Z.</summary>
    public long Volume => (long)X * Y * Z;
}

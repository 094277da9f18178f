using System.Globalization;

namespace DeepEP.Runtimes;

/// <summary>
/// C# twin of the row-shape word of <c>common/row_shape.cuh</c>: what every rank of one normal-mode call must agree on
/// (16-byte words per row, FP8 scales per row, top-k), packed into the word each rank publishes in its mailbox.
/// </summary>
internal static class RowShape
{
    /// <summary>Packs a row of <paramref name="rowWords"/> 16-byte words, <paramref name="numScales"/> scales and <paramref name="numTopk"/> top-k entries.</summary>
    public static long Pack(long rowWords, int numScales, int numTopk)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rowWords);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(rowWords, (1L << 32) - 1);
        ArgumentOutOfRangeException.ThrowIfNegative(numScales);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(numScales, 0xffff);
        ArgumentOutOfRangeException.ThrowIfNegative(numTopk);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(numTopk, 0xffff);
        return rowWords | ((long)numScales << 32) | ((long)numTopk << 48);
    }

    /// <summary>Describes a packed word for a message, e.g. "rows of 14336 bytes, 56 scales, top-k 8".</summary>
    public static string Describe(long word) => string.Create(CultureInfo.InvariantCulture,
        $"rows of {(word & 0xffffffffL) * 16} bytes, {(word >> 32) & 0xffff} scales, top-k {(word >> 48) & 0xffff}");
}

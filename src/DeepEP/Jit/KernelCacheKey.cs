using System.Security.Cryptography;
using System.Text;

namespace DeepEP.Jit;

/// <summary>
/// The cache key of a compiled program: SHA-256 over the generated source, the name expressions it instantiates,
/// every embedded header (name and content), the NVRTC version, the options and the architecture, each
/// length-prefixed so fields cannot run together.
/// </summary>
internal static class KernelCacheKey
{
    private const string Schema = "deepep-kernel-cache/1";

    /// <summary>The key as 64 lowercase hex digits.</summary>
    public static string Compute(
        string source,
        IReadOnlyList<string> nameExpressions,
        IReadOnlyList<KernelHeader> headers,
        (int Major, int Minor) nvrtcVersion,
        IReadOnlyList<string> options,
        string architecture)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        Append(hash, Schema);
        Append(hash, source);
        Append(hash, nameExpressions.Count.ToString(System.Globalization.CultureInfo.InvariantCulture));
        foreach (string expression in nameExpressions)
        {
            Append(hash, expression);
        }
        Append(hash, headers.Count.ToString(System.Globalization.CultureInfo.InvariantCulture));
        foreach (KernelHeader header in headers.OrderBy(h => h.IncludeName, StringComparer.Ordinal))
        {
            Append(hash, header.IncludeName);
            Append(hash, header.Content);
        }
        Append(hash, $"{nvrtcVersion.Major}.{nvrtcVersion.Minor}");
        Append(hash, options.Count.ToString(System.Globalization.CultureInfo.InvariantCulture));
        foreach (string option in options)
        {
            Append(hash, option);
        }
        Append(hash, architecture);
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    private static void Append(IncrementalHash hash, string value)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(value);
        Span<byte> length = stackalloc byte[8];
        System.Buffers.Binary.BinaryPrimitives.WriteInt64LittleEndian(length, bytes.Length);
        hash.AppendData(length);
        hash.AppendData(bytes);
    }
}

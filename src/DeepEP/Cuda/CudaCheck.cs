using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using DeepEP.Interop;

namespace DeepEP.Cuda;

/// <summary>Turns a failed <see cref="CuResult"/> into a <see cref="CudaException"/> naming the call.</summary>
internal static class CudaCheck
{
    /// <summary>Throws unless <paramref name="result"/> is success.</summary>
    public static void Check(CuResult result, [CallerArgumentExpression(nameof(result))] string call = "")
    {
        if (result != CuResult.Success)
        {
            throw Exception(result, call);
        }
    }

    /// <summary>The exception for a failed call (for callers that treat some codes as non-errors first).</summary>
    public static CudaException Exception(CuResult result, string call)
    {
        string name = result.ToString();
        string text = "(no description)";
        try
        {
            if (CudaDriver.cuGetErrorName(result, out nint namePointer) == CuResult.Success && namePointer != 0)
            {
                name = Marshal.PtrToStringUTF8(namePointer) ?? name;
            }
            if (CudaDriver.cuGetErrorString(result, out nint textPointer) == CuResult.Success && textPointer != 0)
            {
                text = Marshal.PtrToStringUTF8(textPointer) ?? text;
            }
        }
        catch (DllNotFoundException)
        {
            // The driver is gone; the numeric code and the call still say what failed.
        }
        return new CudaException((int)result, ApiName(call), name, text, call);
    }

    /// <summary>The function name in a call expression: <c>CudaDriver.cuInit(0)</c> gives <c>cuInit</c>.</summary>
    public static string ApiName(string call)
    {
        int open = call.IndexOf('(', StringComparison.Ordinal);
        string head = open < 0 ? call : call[..open];
        int dot = head.LastIndexOf('.');
        return (dot < 0 ? head : head[(dot + 1)..]).Trim();
    }
}

using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using DeepEP.Cuda;
using DeepEP.Interop;

namespace DeepEP.Jit;

/// <summary>Turns a failed <see cref="NvrtcResult"/> into an <see cref="NvrtcException"/> naming the call.</summary>
internal static class NvrtcCheck
{
    /// <summary>Throws unless <paramref name="result"/> is success.</summary>
    public static void Check(NvrtcResult result, [CallerArgumentExpression(nameof(result))] string call = "")
    {
        if (result == NvrtcResult.Success)
        {
            return;
        }
        string name = Marshal.PtrToStringUTF8(Nvrtc.nvrtcGetErrorString(result)) ?? result.ToString();
        string text = result switch
        {
            NvrtcResult.OutOfMemory => "out of host memory",
            NvrtcResult.InvalidInput => "a null or malformed argument",
            NvrtcResult.InvalidProgram => "the program handle is not valid",
            NvrtcResult.InvalidOption => "the compiler rejected an option",
            NvrtcResult.Compilation => "the source did not compile",
            NvrtcResult.NameExpressionNotValid => "a name expression did not resolve to a kernel",
            _ => "see the error name",
        };
        throw new NvrtcException((int)result, CudaCheck.ApiName(call), name, text, call);
    }
}

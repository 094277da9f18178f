using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using DeepEP.Configuration;
using DeepEP.Cuda;
using DeepEP.Interop;
using DeepEP.NativeLibraries;

namespace DeepEP.Distributed;

/// <summary>Turns a failed <see cref="NcclResult"/> into an <see cref="NcclException"/> naming the call.</summary>
internal static class NcclCheck
{
    /// <summary>Throws unless <paramref name="result"/> is success (<c>ncclInProgress</c> counts as success for non-blocking communicators).</summary>
    public static void Check(NcclResult result, [CallerArgumentExpression(nameof(result))] string call = "")
    {
        if (result is NcclResult.Success or NcclResult.InProgress)
        {
            return;
        }
        string text = Marshal.PtrToStringUTF8(Nccl.ncclGetErrorString(result)) ?? "(no description)";
        string? detail = Marshal.PtrToStringUTF8(Nccl.ncclGetLastError(0));
        if (!string.IsNullOrWhiteSpace(detail))
        {
            text = $"{text}; last error: {detail.Trim()}";
        }
        throw new NcclException((int)result, CudaCheck.ApiName(call), "nccl" + result, text, call);
    }

    /// <summary>Throws <see cref="GpuUnavailableException"/>, listing the places searched, when NCCL is not found.</summary>
    public static void EnsureLoaded()
    {
        NativeLibraryProbe probe = NativeLibraryResolver.Probe(NativeLibraryKind.Nccl);
        if (!probe.Found)
        {
            throw new GpuUnavailableException($"NCCL is unavailable: {probe.Describe()}. Set {EnvironmentKnobs.NcclLibraryVariable} or install the nvidia-nccl wheel.", probe.Attempts);
        }
    }
}

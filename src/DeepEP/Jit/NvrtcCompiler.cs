using System.Runtime.InteropServices;
using System.Text;
using DeepEP.Configuration;
using DeepEP.Cuda;
using DeepEP.Interop;
using DeepEP.NativeLibraries;
using static DeepEP.Jit.NvrtcCheck;

namespace DeepEP.Jit;

/// <summary>One NVRTC compilation: source + headers + options → CUBIN and mangled names. No caching here.</summary>
internal static unsafe class NvrtcCompiler
{
    private static readonly Lazy<(int Major, int Minor)> s_version = new(() =>
    {
        EnsureLoaded();
        Check(Nvrtc.nvrtcVersion(out int major, out int minor));
        return (major, minor);
    });

    /// <summary>The NVRTC version (e.g. 13.0).</summary>
    public static (int Major, int Minor) Version => s_version.Value;

    /// <summary>Throws <see cref="GpuUnavailableException"/>, listing the places searched, when NVRTC is not found.</summary>
    public static void EnsureLoaded() => EnsureFound(NativeLibraryResolver.Probe(NativeLibraryKind.Nvrtc));

    /// <summary>Throws <see cref="GpuUnavailableException"/>, listing the places searched, unless <paramref name="probe"/> found NVRTC.</summary>
    internal static void EnsureFound(NativeLibraryProbe probe)
    {
        if (!probe.Found)
        {
            throw new GpuUnavailableException($"Cannot compile kernels: {probe.Describe()}. Set {EnvironmentKnobs.NvrtcLibraryVariable} or CUDA_HOME.", probe.Attempts);
        }
    }

    /// <summary>Compiles <paramref name="program"/>.</summary>
    /// <param name="key">The cache key to stamp on the result.</param>
    /// <param name="program">The source and the name expressions to lower.</param>
    /// <param name="headers">Every header, passed to <c>nvrtcCreateProgram</c> by include name.</param>
    /// <param name="options">Compiler options.</param>
    /// <param name="hint">Added to a compile error's message (e.g. where CUDA headers were looked for).</param>
    /// <exception cref="KernelCompilationException">The source did not compile; the exception holds the log.</exception>
    public static KernelCacheEntry Compile(string key, KernelProgram program, IReadOnlyList<KernelHeader> headers, IReadOnlyList<string> options, string hint)
    {
        EnsureLoaded();
        var strings = new List<nint>();
        nint programHandle = 0;
        try
        {
            byte* source = Utf8(program.Source, strings);
            byte* name = Utf8(program.Name + ".cu", strings);
            byte** headerSources = stackalloc byte*[Math.Max(headers.Count, 1)];
            byte** headerNames = stackalloc byte*[Math.Max(headers.Count, 1)];
            for (int i = 0; i < headers.Count; i++)
            {
                headerSources[i] = Utf8(headers[i].Content, strings);
                headerNames[i] = Utf8(headers[i].IncludeName, strings);
            }
            Check(Nvrtc.nvrtcCreateProgram(out programHandle, source, name, headers.Count, headerSources, headerNames));
            foreach (string expression in program.NameExpressions)
            {
                Check(Nvrtc.nvrtcAddNameExpression(programHandle, expression));
            }
            byte** optionPointers = stackalloc byte*[Math.Max(options.Count, 1)];
            for (int i = 0; i < options.Count; i++)
            {
                optionPointers[i] = Utf8(options[i], strings);
            }
            NvrtcResult compiled = Nvrtc.nvrtcCompileProgram(programHandle, options.Count, optionPointers);
            string log = ReadLog(programHandle);
            if (compiled == NvrtcResult.Compilation)
            {
                throw new KernelCompilationException(program.Name, log, program.Source, options, hint);
            }
            Check(compiled);
            Check(Nvrtc.nvrtcGetCUBINSize(programHandle, out nuint cubinSize));
            byte[] cubin = new byte[(int)cubinSize];
            fixed (byte* cubinPointer = cubin)
            {
                Check(Nvrtc.nvrtcGetCUBIN(programHandle, cubinPointer));
            }
            var lowered = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (string expression in program.NameExpressions)
            {
                Check(Nvrtc.nvrtcGetLoweredName(programHandle, expression, out nint loweredName));
                lowered[expression] = Marshal.PtrToStringUTF8(loweredName)!;
            }
            return new KernelCacheEntry(key, cubin, program.Source, options, log, lowered);
        }
        finally
        {
            if (programHandle != 0)
            {
                _ = Nvrtc.nvrtcDestroyProgram(ref programHandle);
            }
            foreach (nint s in strings)
            {
                Marshal.FreeCoTaskMem(s);
            }
        }
    }

    private static string ReadLog(nint program)
    {
        Check(Nvrtc.nvrtcGetProgramLogSize(program, out nuint size));
        if (size <= 1)
        {
            return "";
        }
        byte[] log = new byte[(int)size];
        fixed (byte* pointer = log)
        {
            Check(Nvrtc.nvrtcGetProgramLog(program, pointer));
        }
        return Encoding.UTF8.GetString(log, 0, log.Length - 1);
    }

    private static byte* Utf8(string value, List<nint> owned)
    {
        nint pointer = Marshal.StringToCoTaskMemUTF8(value);
        owned.Add(pointer);
        return (byte*)pointer;
    }
}

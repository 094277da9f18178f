namespace DeepEP.Jit;

/// <summary>NVRTC could not compile a kernel program; <see cref="Log"/> holds the compiler's messages.</summary>
public sealed class KernelCompilationException : Exception
{
    /// <summary>Creates the exception with a default message.</summary>
    public KernelCompilationException()
        : this("A kernel did not compile.")
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    public KernelCompilationException(string message)
        : base(message)
    {
        ProgramName = Log = ProgramSource = "";
        Options = [];
    }

    /// <summary>Creates the exception with a message and an inner exception.</summary>
    public KernelCompilationException(string message, Exception innerException)
        : base(message, innerException)
    {
        ProgramName = Log = ProgramSource = "";
        Options = [];
    }

    /// <summary>Creates the exception for one failed compilation.</summary>
    /// <param name="programName">The program's name (e.g. <c>fp8_cast</c>).</param>
    /// <param name="log">The NVRTC log.</param>
    /// <param name="source">The generated source.</param>
    /// <param name="options">The compiler options.</param>
    /// <param name="hint">Extra context, such as where CUDA headers were looked for; may be empty.</param>
    public KernelCompilationException(string programName, string log, string source, IReadOnlyList<string> options, string hint)
        : base($"Kernel program '{programName}' did not compile (options: {string.Join(' ', options)}).{(hint.Length > 0 ? " " + hint : "")}\n{log}")
    {
        ProgramName = programName;
        Log = log;
        ProgramSource = source;
        Options = options;
    }

    /// <summary>The program's name.</summary>
    public string ProgramName { get; }

    /// <summary>The NVRTC compile log.</summary>
    public string Log { get; }

    /// <summary>The generated source that failed.</summary>
    public string ProgramSource { get; }

    /// <summary>The options it was compiled with.</summary>
    public IReadOnlyList<string> Options { get; }
}

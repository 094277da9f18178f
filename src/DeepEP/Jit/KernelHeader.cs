namespace DeepEP.Jit;

/// <summary>One embedded kernel source file.</summary>
/// <param name="IncludeName">The path kernels <c>#include</c> it by, e.g. <c>deep_ep/common/ptx.cuh</c>.</param>
/// <param name="Content">The file's text.</param>
internal sealed record KernelHeader(string IncludeName, string Content);

using System.Text.RegularExpressions;
using DeepEP.Jit;
using DeepEP.Runtimes;

namespace DeepEP.Tests.Jit;

/// <summary>
/// The kernel header set is closed, checked without NVRTC (CI has none): every <c>deep_ep/</c> include, every header
/// a runtime names and every <c>DEEPEP_*</c> macro a header reads is one the compiler is given, so moving a
/// declaration between headers cannot leave a kernel that only fails to compile on the GPU.
/// </summary>
public sealed partial class KernelHeaderSetTests
{
    private static readonly HashSet<string> Embedded = KernelSourceTree.Headers.Select(h => h.IncludeName).ToHashSet(StringComparer.Ordinal);

    [Fact]
    public void EveryIncludeResolvesToAnEmbeddedHeader()
    {
        foreach (KernelHeader header in KernelSourceTree.Headers)
        {
            foreach (Match include in IncludePattern().Matches(header.Content))
            {
                Assert.True(Embedded.Contains(include.Groups[1].Value), $"{header.IncludeName} includes {include.Groups[1].Value}, which is not embedded.");
            }
        }
    }

    [Fact]
    public void EveryHeaderTheHostNamesIsEmbedded()
    {
        string source = Path.Combine(RepositoryPaths.Root, "src", "DeepEP");
        string[] named = Directory.GetFiles(source, "*.cs", SearchOption.AllDirectories)
            .SelectMany(file => HeaderLiteral().Matches(File.ReadAllText(file)).Select(m => m.Groups[1].Value))
            .Distinct(StringComparer.Ordinal)
            .ToArray();
        Assert.NotEmpty(named);
        Assert.All(named, name => Assert.True(Embedded.Contains(name), $"The host names {name}, which is not embedded."));
    }

    [Fact]
    public void EveryDefineAHeaderReadsIsPassedByTheHost()
    {
        var definedInHeaders = KernelSourceTree.Headers
            .SelectMany(h => DefinePattern().Matches(h.Content).Select(m => m.Groups[1].Value))
            .ToHashSet(StringComparer.Ordinal);
        // The phase timers' define is the one the host passes only on request (deepep bench --phases).
        var passed = KernelDefines.All.Append(PhaseTrace.Define).Select(d => d.Key).ToHashSet(StringComparer.Ordinal);
        foreach (KernelHeader header in KernelSourceTree.Headers)
        {
            foreach (Match macro in MacroPattern().Matches(header.Content))
            {
                string name = macro.Value;
                Assert.True(passed.Contains(name) || definedInHeaders.Contains(name), $"{header.IncludeName} reads {name}, which KernelDefines does not pass.");
            }
        }
    }

    [Fact]
    public void EveryDefineTheHostPassesIsRead()
    {
        string all = string.Concat(KernelSourceTree.Headers.Select(h => h.Content));
        Assert.All(KernelDefines.All, define => Assert.Contains(define.Key, all, StringComparison.Ordinal));
        Assert.Equal(KernelDefines.All.Count, KernelDefines.All.Select(d => d.Key).Distinct(StringComparer.Ordinal).Count());
    }

    [Fact]
    public void ImplsHoldKernelsAndCommonHoldsNone()
    {
        foreach (KernelHeader header in KernelSourceTree.Headers)
        {
            bool hasKernel = header.Content.Contains("__global__", StringComparison.Ordinal);
            if (header.IncludeName.StartsWith("deep_ep/impls/", StringComparison.Ordinal))
            {
                Assert.True(hasKernel, $"{header.IncludeName} holds no kernel: infrastructure belongs in deep_ep/common/.");
                Assert.DoesNotContain("#include <deep_ep/impls/", header.Content, StringComparison.Ordinal);
            }
            else
            {
                Assert.False(hasKernel, $"{header.IncludeName} holds a kernel: kernels belong in deep_ep/impls/.");
            }
        }
    }

    [Fact]
    public void EveryCheckedConstantHasTheValueTheHostPasses()
    {
        Dictionary<string, string> passed = KernelDefines.All.ToDictionary(d => d.Key, d => d.Value, StringComparer.Ordinal);
        int checkedConstants = 0;
        foreach (KernelHeader header in KernelSourceTree.Headers)
        {
            Dictionary<string, string> literals = LiteralPattern().Matches(header.Content).ToDictionary(m => m.Groups[1].Value, m => m.Groups[2].Value, StringComparer.Ordinal);
            foreach (Match check in CheckConstantPattern().Matches(header.Content))
            {
                (string constant, string macro) = (check.Groups[1].Value, check.Groups[2].Value);
                Assert.True(literals.TryGetValue(constant, out string? value), $"{header.IncludeName} checks {constant}, which it does not define as a literal.");
                Assert.True(passed.TryGetValue(macro, out string? expected), $"{header.IncludeName} checks {constant} against {macro}, which KernelDefines does not pass.");
                Assert.True(value == expected, $"{header.IncludeName}: {constant} = {value}, but the host passes {macro} = {expected}.");
                checkedConstants++;
            }
        }
        Assert.True(checkedConstants >= 14, $"Only {checkedConstants} constants are checked.");
    }

    [GeneratedRegex("#include <(deep_ep/[^>]+)>")]
    private static partial Regex IncludePattern();

    [GeneratedRegex("\"(deep_ep/[A-Za-z0-9_/]+\\.cuh)\"")]
    private static partial Regex HeaderLiteral();

    [GeneratedRegex(@"#define\s+(DEEPEP_[A-Z0-9_]+)")]
    private static partial Regex DefinePattern();

    [GeneratedRegex(@"constexpr int (k\w+) = (\d+);")]
    private static partial Regex LiteralPattern();

    [GeneratedRegex(@"DEEPEP_CHECK_CONSTANT\((k\w+), (DEEPEP_[A-Z0-9_]+)\);")]
    private static partial Regex CheckConstantPattern();

    [GeneratedRegex(@"\bDEEPEP_[A-Z0-9_]+\b")]
    private static partial Regex MacroPattern();
}

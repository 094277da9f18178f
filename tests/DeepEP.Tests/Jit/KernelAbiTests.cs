using System.Reflection;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.RegularExpressions;
using DeepEP.Jit;
using DeepEP.NativeLibraries;
using DeepEP.Runtimes;

namespace DeepEP.Tests.Jit;

/// <summary>
/// Every field of every C# parameter-struct twin (<see cref="KernelDefines.Twins"/>) sits at the byte offset of the C++
/// field of the same name in snake_case, checked by NVRTC with one <c>static_assert</c> per field: the size check each
/// kernel compiles with passes two swapped fields of one size, this does not. Needs NVRTC and the CUDA headers; skips
/// where they are missing, as on CI.
/// </summary>
public sealed partial class KernelAbiTests
{
    [Fact]
    public void EveryTwinFieldSitsAtItsCppOffset()
    {
        Assert.SkipUnless(NativeLibraryResolver.Probe(NativeLibraryKind.Nvrtc).Found, "NVRTC is not installed here.");
        Assert.SkipWhen(CudaIncludeLocator.FindForProcess().IncludeFolders.Count == 0, "The CUDA headers (cuda_bf16.h, cuda_fp8.h) are not installed here; set CUDA_HOME.");
        // The C++ struct each size define is checked against, and the header that declares it.
        var declared = new Dictionary<string, (string Type, string Header)>(StringComparer.Ordinal);
        foreach (KernelHeader header in KernelSourceTree.Headers)
        {
            foreach (Match check in SizeCheckPattern().Matches(header.Content))
            {
                declared[check.Groups[2].Value] = (check.Groups[1].Value, header.IncludeName);
            }
        }
        var asserts = new StringBuilder();
        int fields = 0;
        foreach (ParamsTwin twin in KernelDefines.Twins)
        {
            Assert.True(declared.TryGetValue(twin.SizeMacro, out (string Type, string Header) cpp), $"No header checks {twin.SizeMacro} ({twin.Type.Name}).");
            foreach ((string name, long offset) in Fields(twin.Type, 0))
            {
                // NVRTC's front end has no __builtin_offsetof; __INTADDR__ makes the classic offsetof a constant expression.
                asserts.Append($"static_assert(__INTADDR__(&((deep_ep::{cpp.Type}*)0)->{SnakeCase(name)}) == {offset}, ")
                    .Append($"\"{twin.Type.Name}.{name} is at byte {offset} in C#\");\n");
                fields++;
            }
        }
        Assert.True(fields > 200, $"Only {fields} fields were checked.");
        string[] headers = [.. declared.Values.Select(d => d.Header).Append("deep_ep/impls/rank_barrier.cuh").Distinct(StringComparer.Ordinal)];
        KernelProgram program = KernelProgram.Create("abi", headers, KernelDefines.All, ["deep_ep::barrier"]);
        string cache = Directory.CreateTempSubdirectory("deepep-abi-").FullName;
        try
        {
            new KernelCompiler(cache).Compile(program with { Source = program.Source + asserts }, "sm_90");
        }
        finally
        {
            Directory.Delete(cache, recursive: true);
        }
    }

    [Theory]
    [InlineData("PackedRecvXScales", "packed_recv_x_scales")]
    [InlineData("TimeoutNs", "timeout_ns")]
    [InlineData("Bias0", "bias0")]
    [InlineData("X", "x")]
    public void FieldNamesMapToSnakeCase(string csharp, string cpp) => Assert.Equal(cpp, SnakeCase(csharp));

    // A twin's fields with their byte offsets from the outer struct's start. A field whose type is itself a twin is the
    // C++ struct's base (DispatchSource under DispatchParams): its fields are the outer struct's inherited members.
    private static IEnumerable<(string Name, long Offset)> Fields(Type type, long start)
    {
        foreach (FieldInfo field in type.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic))
        {
            long offset = start + Marshal.OffsetOf(type, field.Name);
            if (KernelDefines.Twins.Any(twin => twin.Type == field.FieldType))
            {
                foreach ((string Name, long Offset) inherited in Fields(field.FieldType, offset))
                {
                    yield return inherited;
                }
                continue;
            }
            yield return (field.Name, offset);
        }
    }

    private static string SnakeCase(string name) => WordStart().Replace(name, "_$0").ToLowerInvariant();

    // An upper-case letter after a lower-case letter or digit, or one that starts a word after an acronym (XScales).
    [GeneratedRegex("(?<=[a-z0-9])[A-Z]|(?<=[A-Z])[A-Z](?=[a-z])")]
    private static partial Regex WordStart();

    [GeneratedRegex(@"DEEPEP_CHECK_PARAMS_SIZE\((\w+), (DEEPEP_\w+)\);")]
    private static partial Regex SizeCheckPattern();
}

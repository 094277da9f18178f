using System.Reflection;
using System.Runtime.CompilerServices;
using System.Text.RegularExpressions;
using DeepEP.Ep;

namespace DeepEP.Tests.Architecture;

/// <summary>
/// Folders are the layers and dependencies point down (docs/architecture.md, "Layers"): every folder of
/// <c>src/DeepEP</c> is a layer with the namespace of its name, and no source file of an ordered layer names a
/// layer above it, whether by <c>using</c>, by a qualified name or by the simple name of one of its types.
/// </summary>
public sealed partial class LayerDependencyTests
{
    /// <summary>The layers, bottom first; each of the ordered ones may refer only to itself and the ones before it.</summary>
    private static readonly string[] Layers =
        ["Configuration", "NativeLibraries", "Interop", "Cuda", "Tensors", "Jit", "Distributed", "Runtimes", "Backends", "Ep"];

    /// <summary>
    /// How many layers, from the bottom, are held to the rule. Backends and Ep are not yet: the backends build
    /// the facade's public result records and handles, which live in <c>DeepEP.Ep</c>.
    /// </summary>
    private const int OrderedLayers = 8;

    private static string SourceRoot => Path.Combine(RepositoryPaths.Root, "src", "DeepEP");

    [Fact]
    public void EveryFolderIsALayer()
    {
        string[] folders = Directory.GetDirectories(SourceRoot)
            .Select(Path.GetFileName)
            .OfType<string>()
            .Where(name => name is not ("Kernels" or "bin" or "obj"))
            .Order(StringComparer.Ordinal)
            .ToArray();
        Assert.Equal(Layers.Order(StringComparer.Ordinal), folders);
    }

    [Theory]
    [MemberData(nameof(LayerNames))]
    public void FilesDeclareTheirLayersNamespace(string layer)
    {
        foreach (string file in SourceFiles(layer))
        {
            Match declared = NamespaceDeclaration().Match(File.ReadAllText(file));
            Assert.True(declared.Success, $"{file} declares no namespace.");
            string ns = declared.Groups[1].Value;
            Assert.True(ns == $"DeepEP.{layer}" || ns.StartsWith($"DeepEP.{layer}.", StringComparison.Ordinal), $"{file} declares {ns}, not DeepEP.{layer}.");
        }
    }

    [Theory]
    [MemberData(nameof(OrderedLayerNames))]
    public void NoFileNamesALayerAbove(string layer)
    {
        int index = Array.IndexOf(Layers, layer);
        var violations = new List<string>();
        foreach (string above in Layers.Skip(index + 1))
        {
            Regex reference = ReferenceTo(above);
            foreach (string file in SourceFiles(layer))
            {
                string code = EnumBody().Replace(Comment().Replace(File.ReadAllText(file), ""), "");
                violations.AddRange(reference.Matches(code).Select(m => $"{Path.GetRelativePath(SourceRoot, file)} names {above}: '{m.Value}'"));
            }
        }
        Assert.True(violations.Count == 0, string.Join(Environment.NewLine, violations));
    }

    public static TheoryData<string> LayerNames() => new(Layers);

    public static TheoryData<string> OrderedLayerNames() => new(Layers.Take(OrderedLayers));

    private static IEnumerable<string> SourceFiles(string layer) =>
        Directory.EnumerateFiles(Path.Combine(SourceRoot, layer), "*.cs", SearchOption.AllDirectories)
            .Where(file => !file.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal));

    // The namespace (DeepEP.X, or X. from inside DeepEP) or the simple name of a top-level type declared in it; a name
    // after a dot is a member (NativeLibraryKind.Nccl), and enum bodies (comments too) are left out before matching.
    private static Regex ReferenceTo(string layer)
    {
        IEnumerable<string> typeNames = typeof(EpBuffer).Assembly.GetTypes()
            .Where(t => t.DeclaringType is null && !t.IsDefined(typeof(CompilerGeneratedAttribute)) && !t.Name.Contains('<', StringComparison.Ordinal))
            .Where(t => t.Namespace == $"DeepEP.{layer}" || (t.Namespace?.StartsWith($"DeepEP.{layer}.", StringComparison.Ordinal) ?? false))
            .Select(t => Regex.Escape(t.Name.Split('`')[0]));
        string alternatives = string.Join("|", [$@"\bDeepEP\.{layer}\b", $@"(?<![\w.]){layer}\.", .. typeNames.Select(name => $@"(?<![\w.]){name}\b")]);
        return new Regex(alternatives, RegexOptions.CultureInvariant);
    }

    [GeneratedRegex(@"^namespace\s+([\w.]+)\s*;", RegexOptions.Multiline)]
    private static partial Regex NamespaceDeclaration();

    [GeneratedRegex(@"\benum\s+\w+[^{]*\{[^}]*\}")]
    private static partial Regex EnumBody();

    [GeneratedRegex(@"//[^\n]*|/\*.*?\*/", RegexOptions.Singleline)]
    private static partial Regex Comment();
}

namespace DeepEP.Tests.Docs;

/// <summary>
/// The README's C# examples are taken from <c>samples/MoeLayer</c>, which CI builds and runs: each example must appear
/// there line for line (indentation aside), so what the README shows compiles and runs as written.
/// </summary>
public sealed class ReadmeExampleTests
{
    [Fact]
    public void EveryReadmeExampleIsPartOfTheSample()
    {
        string root = RepositoryPaths.Root;
        string[][] samples = Directory.GetFiles(Path.Combine(root, "samples", "MoeLayer"), "*.cs").Select(Lines).ToArray();
        List<string[]> examples = CSharpBlocks(File.ReadAllText(Path.Combine(root, "README.md")));
        Assert.NotEmpty(examples);
        foreach (string[] example in examples)
        {
            Assert.True(samples.Any(sample => Contains(sample, example)),
                $"This README example is not in samples/MoeLayer (copy it from there):\n{string.Join('\n', example)}");
        }
    }

    private static List<string[]> CSharpBlocks(string markdown)
    {
        var blocks = new List<string[]>();
        List<string>? current = null;
        foreach (string line in markdown.Split('\n'))
        {
            if (current is null && line.Trim() == "```csharp")
            {
                current = [];
            }
            else if (current is not null && line.Trim() == "```")
            {
                blocks.Add(current.Select(l => l.Trim()).Where(l => l.Length > 0).ToArray());
                current = null;
            }
            else
            {
                current?.Add(line);
            }
        }
        return blocks;
    }

    private static string[] Lines(string path) =>
        File.ReadAllLines(path).Select(l => l.Trim()).Where(l => l.Length > 0).ToArray();

    private static bool Contains(string[] lines, string[] block) =>
        Enumerable.Range(0, Math.Max(0, lines.Length - block.Length + 1)).Any(start => lines.AsSpan(start, block.Length).SequenceEqual(block));
}

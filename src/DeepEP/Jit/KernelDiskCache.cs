using System.Text;

namespace DeepEP.Jit;

/// <summary>
/// Compiled programs on disk: <c>&lt;root&gt;/kernels/&lt;key&gt;/</c> holds <c>kernel.cubin</c>, <c>kernel.cu</c>,
/// <c>options.txt</c>, <c>compile.log</c> and <c>names.tsv</c>. An entry is written in a temporary folder and renamed
/// into place, so readers (other processes included) see a whole entry or none.
/// </summary>
internal sealed class KernelDiskCache
{
    private const string CubinFile = "kernel.cubin";
    private const string SourceFile = "kernel.cu";
    private const string OptionsFile = "options.txt";
    private const string LogFile = "compile.log";
    private const string NamesFile = "names.tsv";

    /// <summary>Uses <paramref name="root"/> (created on first write).</summary>
    public KernelDiskCache(string root)
    {
        ArgumentException.ThrowIfNullOrEmpty(root);
        Root = root;
    }

    /// <summary>The cache folder (e.g. <c>~/.cache/deepep</c>).</summary>
    public string Root { get; }

    /// <summary>The folder of entry <paramref name="key"/>.</summary>
    public string EntryFolder(string key) => Path.Combine(Root, "kernels", key);

    /// <summary>Reads entry <paramref name="key"/>; null when absent or unreadable.</summary>
    public KernelCacheEntry? TryRead(string key)
    {
        string folder = EntryFolder(key);
        if (!Directory.Exists(folder))
        {
            return null;
        }
        try
        {
            var names = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (string line in File.ReadAllLines(Path.Combine(folder, NamesFile), Encoding.UTF8))
            {
                int tab = line.IndexOf('\t', StringComparison.Ordinal);
                if (tab > 0)
                {
                    names[line[..tab]] = line[(tab + 1)..];
                }
            }
            return new KernelCacheEntry(
                key,
                File.ReadAllBytes(Path.Combine(folder, CubinFile)),
                File.ReadAllText(Path.Combine(folder, SourceFile), Encoding.UTF8),
                File.ReadAllLines(Path.Combine(folder, OptionsFile), Encoding.UTF8),
                File.ReadAllText(Path.Combine(folder, LogFile), Encoding.UTF8),
                names);
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>
    /// Writes <paramref name="entry"/> atomically. When another writer got there first its entry is kept (same key,
    /// same content). Returns false when the folder is not writable: the cache is an optimisation, not a requirement.
    /// </summary>
    public bool Write(KernelCacheEntry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        string final = EntryFolder(entry.Key);
        string temporary = Path.Combine(Root, "kernels", $".tmp-{entry.Key[..16]}-{Guid.NewGuid():N}");
        try
        {
            Directory.CreateDirectory(temporary);
            File.WriteAllBytes(Path.Combine(temporary, CubinFile), entry.Cubin);
            File.WriteAllText(Path.Combine(temporary, SourceFile), entry.Source, Encoding.UTF8);
            File.WriteAllLines(Path.Combine(temporary, OptionsFile), entry.Options, Encoding.UTF8);
            File.WriteAllText(Path.Combine(temporary, LogFile), entry.Log, Encoding.UTF8);
            File.WriteAllLines(Path.Combine(temporary, NamesFile), entry.LoweredNames.Select(p => $"{p.Key}\t{p.Value}"), Encoding.UTF8);
            if (Directory.Exists(final))
            {
                Directory.Delete(temporary, recursive: true);
                return true;
            }
            Directory.Move(temporary, final);
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            TryDelete(temporary);
            return Directory.Exists(final);
        }
    }

    private static void TryDelete(string folder)
    {
        try
        {
            if (Directory.Exists(folder))
            {
                Directory.Delete(folder, recursive: true);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A leftover temporary folder is harmless: names starting with ".tmp-" are never read as entries.
        }
    }
}

using System.Diagnostics;

namespace DeepEP.NativeLibraries;

/// <summary>
/// python3's site-packages folders, where pip's <c>nvidia-*</c> wheels put CUDA libraries and headers. Asked of
/// <c>python3</c> once, on first use, and only by searches whose earlier places failed.
/// </summary>
internal static class PythonSitePackages
{
    private static readonly Lazy<IReadOnlyList<string>> s_folders = new(Query);

    /// <summary>The folders python3 reports (existing ones only); empty when python3 is missing or fails.</summary>
    public static IReadOnlyList<string> Folders => s_folders.Value;

    private static IReadOnlyList<string> Query()
    {
        var start = new ProcessStartInfo("python3")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add("import site; print('\\n'.join(site.getsitepackages() + [site.getusersitepackages()]))");
        try
        {
            using Process process = Process.Start(start)!;
            Task<string> output = process.StandardOutput.ReadToEndAsync();
            _ = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(TimeSpan.FromSeconds(10)))
            {
                process.Kill();
                return [];
            }
            return output.Result.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Where(Directory.Exists)
                .Distinct(StringComparer.Ordinal)
                .ToArray();
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return [];
        }
    }
}

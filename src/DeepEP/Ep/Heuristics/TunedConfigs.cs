using System.Globalization;
using System.Text.Json.Nodes;

namespace DeepEP.Ep.Heuristics;

/// <summary>
/// The SM count that <c>deepep tune</c> measured best (dispatch and combine together, since a handle ties both to
/// one channel count), per GPU model and rank count, kept in <c>$DEEPEP_CACHE_DIR/tuned-configs.json</c>.
/// <see cref="EpBuffer.GetDispatchConfig"/> and <see cref="EpBuffer.GetCombineConfig"/> use it unless
/// <see cref="EpBuffer.SetNumSms"/> was called.
/// </summary>
public static class TunedConfigs
{
    private const string FileName = "tuned-configs.json";

    /// <summary>The file the tuned counts live in.</summary>
    public static string FilePath => Path.Combine(EpEnvironment.Current.CacheDirectory, FileName);

    /// <summary>The tuned SM count for <paramref name="gpuName"/> and <paramref name="numRanks"/>, if any.</summary>
    /// <param name="gpuName">The device name, e.g. "NVIDIA H200".</param>
    /// <param name="numRanks">The group size.</param>
    /// <param name="path">The file; <see cref="FilePath"/> when null.</param>
    public static int? Lookup(string gpuName, int numRanks, string? path = null) =>
        Load(path ?? FilePath)[Key(gpuName, numRanks)] is JsonObject entry ? entry["numSms"]?.GetValue<int>() : null;

    /// <summary>Records the best SM count (atomically replacing the file), with what it was measured on.</summary>
    /// <param name="gpuName">The device name.</param>
    /// <param name="numRanks">The group size.</param>
    /// <param name="numSms">The SM count to use.</param>
    /// <param name="measuredOn">The shape it was measured on, for people reading the file.</param>
    /// <param name="path">The file; <see cref="FilePath"/> when null.</param>
    internal static void Save(string gpuName, int numRanks, int numSms, string measuredOn, string? path = null)
    {
        path ??= FilePath;
        JsonObject all = Load(path);
        all[Key(gpuName, numRanks)] = new JsonObject
        {
            ["numSms"] = numSms,
            ["measuredOn"] = measuredOn,
            ["date"] = DateTimeOffset.UtcNow.ToString("u", CultureInfo.InvariantCulture),
        };
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        string temporary = path + "." + Environment.ProcessId.ToString(CultureInfo.InvariantCulture) + ".tmp";
        File.WriteAllText(temporary, all.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }));
        File.Move(temporary, path, overwrite: true);
    }

    private static string Key(string gpuName, int numRanks) => $"{gpuName} x{numRanks.ToString(CultureInfo.InvariantCulture)}";

    private static JsonObject Load(string path)
    {
        try
        {
            return File.Exists(path) && JsonNode.Parse(File.ReadAllText(path)) is JsonObject all ? all : [];
        }
        catch (System.Text.Json.JsonException)
        {
            // A damaged file only loses the tuning; the defaults still apply.
            return [];
        }
    }
}

using System.Globalization;
using System.Text;
using DeepEP.Tests.Gpu.Support;

namespace DeepEP.Tests.Gpu.Normal;

/// <summary>
/// <see cref="NormalWork"/> of ranks as threads against one process per rank: the same kernels, launched as often, and
/// no copy but the 4-byte source index per received row (the handle's); before the arena slots the process model also
/// copied every received row out of the arena and every combine input into it.
/// </summary>
internal static class WorkComparison
{
    /// <summary>Asserts the rule for every rank and returns the comparison as a Markdown table.</summary>
    public static string RequireSameWork((DeviceWork Dispatch, DeviceWork Combine, long Rows)[] threads, (DeviceWork Dispatch, DeviceWork Combine, long Rows)[] processes)
    {
        var table = new StringBuilder("| rank | call | kernels (threads) | kernels (processes) | copied bytes (threads) | copied bytes (processes) | received row bytes |\n| --- | --- | --- | --- | --- | --- | --- |\n");
        for (int r = 0; r < threads.Length; r++)
        {
            ((DeviceWork Dispatch, DeviceWork Combine, long Rows) t, (DeviceWork Dispatch, DeviceWork Combine, long Rows) p) = (threads[r], processes[r]);
            Assert.Equal(t.Rows, p.Rows);
            Assert.Equal(t.Dispatch.Launches, p.Dispatch.Launches);
            Assert.Equal(t.Combine.Launches, p.Combine.Launches);
            Assert.Equal(t.Dispatch.CopiedBytes + (sizeof(int) * t.Rows), p.Dispatch.CopiedBytes);
            Assert.Equal(t.Combine.CopiedBytes, p.Combine.CopiedBytes);
            long rowBytes = t.Rows * NormalWork.Case.Hidden * 2;
            table.Append(Row(r, "dispatch", t.Dispatch, p.Dispatch, rowBytes)).Append(Row(r, "combine", t.Combine, p.Combine, rowBytes));
        }
        return table.ToString();
    }

    private static string Row(int rank, string call, DeviceWork threads, DeviceWork processes, long rowBytes) => string.Create(CultureInfo.InvariantCulture,
        $"| {rank} | {call} | {Kernels(threads)} | {Kernels(processes)} | {threads.CopiedBytes} | {processes.CopiedBytes} | {rowBytes} |\n");

    private static string Kernels(DeviceWork work) => string.Join(", ", work.Launches.Select(k => $"{Short(k.Key)} × {k.Value}"));

    // Mangled names are long; the identifier after the namespace says which kernel it is.
    private static string Short(string mangled)
    {
        int start = mangled.IndexOf("deep_ep", StringComparison.Ordinal);
        return start < 0 ? mangled : mangled[start..Math.Min(mangled.Length, start + 48)];
    }
}

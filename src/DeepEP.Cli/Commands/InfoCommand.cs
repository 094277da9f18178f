using System.CommandLine;
using DeepEP.Cli.Bench;
using DeepEP.Cuda;
using DeepEP.Distributed;
using DeepEP.Interop;
using DeepEP.Jit;
using DeepEP.NativeLibraries;
using Spectre.Console;

namespace DeepEP.Cli.Commands;

/// <summary><c>deepep info</c>: the GPU stack as the library sees it: driver, NVRTC, NCCL, devices and the peer matrix.</summary>
public static class InfoCommand
{
    /// <summary>Builds the command.</summary>
    public static Command Create()
    {
        var command = new Command("info", "Show the CUDA driver, NVRTC and NCCL versions, every GPU, and the peer-access / NVLink matrix.");
        command.SetAction(_ => Run());
        return command;
    }

    private static int Run()
    {
        var libraries = new Table().Border(TableBorder.Rounded).AddColumn("component").AddColumn("version").AddColumn("from");
        NativeLibraryProbe cuda = NativeLibraryResolver.Probe(NativeLibraryKind.Cuda);
        string? failure = CudaDevice.UnavailableReason;
        if (cuda.Found && CudaDriverLoader.Failure is null)
        {
            int version = CudaDevice.DriverVersion;
            libraries.AddRow("CUDA driver", Markup.Escape(KernelModuleVersion() ?? "?"), Markup.Escape(cuda.LoadedFrom ?? ""));
            libraries.AddRow("CUDA (driver API)", $"{version / 1000}.{version % 1000 / 10}", "cuDriverGetVersion");
        }
        else
        {
            // The reason is printed once, below the table.
            libraries.AddRow("CUDA driver", "[red]unavailable[/]", "see below");
        }
        libraries.AddRow("NVRTC", NvrtcVersion(), Markup.Escape(Place(NativeLibraryKind.Nvrtc)));
        libraries.AddRow("NCCL", NcclVersion(), Markup.Escape(Place(NativeLibraryKind.Nccl)));
        AnsiConsole.Write(libraries);

        if (failure is not null)
        {
            AnsiConsole.MarkupLine($"[yellow]{Markup.Escape(failure)}[/]");
            PrintBenchBackend();
            return 0;
        }

        var devices = new Table().Border(TableBorder.Rounded)
            .AddColumn("#").AddColumn("name").AddColumn("memory").AddColumn("SMs").AddColumn("compute").AddColumn("arch").AddColumn("PCI").AddColumn("UUID");
        foreach (CudaDevice device in CudaDevice.All)
        {
            devices.AddRow(
                device.Ordinal.ToString(System.Globalization.CultureInfo.InvariantCulture),
                Markup.Escape(device.Name),
                $"{device.TotalMemoryBytes / (double)(1L << 30):F1} GiB",
                device.MultiprocessorCount.ToString(System.Globalization.CultureInfo.InvariantCulture),
                device.ComputeCapability.ToString(),
                device.ComputeCapability.NvrtcArchitecture,
                device.PciAddress,
                device.Uuid.ToString());
        }
        AnsiConsole.Write(devices);

        if (CudaDevice.Count > 1)
        {
            var peers = new Table().Border(TableBorder.Rounded).Title("peer access (rank: lower is faster; A = native atomics)").AddColumn("from \\ to");
            foreach (CudaDevice device in CudaDevice.All)
            {
                peers.AddColumn(device.ToString());
            }
            foreach (CudaDevice from in CudaDevice.All)
            {
                var row = new List<string> { from.ToString() };
                foreach (CudaDevice to in CudaDevice.All)
                {
                    row.Add(from.Ordinal == to.Ordinal ? "-"
                        : !from.CanAccessPeer(to) ? "[red]no[/]"
                        : $"rank {from.PeerPerformanceRank(to)}{(from.SupportsNativePeerAtomics(to) ? ", A" : "")}");
                }
                peers.AddRow(row.ToArray());
            }
            AnsiConsole.Write(peers);
        }
        // Where bench's ranks run by default, and at 8 ranks (more ranks than GPUs share them round-robin).
        foreach (int ranks in new[] { CudaDevice.Count, 8 }.Distinct())
        {
            string caveat = RankPlacement.PerGpu(ranks, CudaDevice.Count) > 1 ? $" ({RankPlacement.PerGpu(ranks, CudaDevice.Count)} per GPU: correctness, not NVLink figures)" : "";
            AnsiConsole.MarkupLine(Markup.Escape($"{ranks} ranks (rank or LOCAL_RANK % {CudaDevice.Count}): {string.Join("; ", RankPlacement.Describe(ranks, CudaDevice.Count))}{caveat}"));
        }
        PrintBenchBackend();
        return 0;
    }

    /// <summary>The last line: the backend <c>deepep bench</c> would use, why, and whether it can run here.</summary>
    private static void PrintBenchBackend()
    {
        BenchBackendChoice choice = BenchBackendChoice.Resolve(null);
        AnsiConsole.MarkupLine(BenchBackendChoice.Problem(choice.Kind, choice.Reason) is { } problem
            ? $"[red]deepep bench cannot run here: {Markup.Escape(problem)}[/]"
            : $"deepep bench would use the [green]{BenchBackendChoice.Name(choice.Kind)}[/] backend ({Markup.Escape(choice.Reason)}).");
    }

    private static string Place(NativeLibraryKind kind)
    {
        NativeLibraryProbe probe = NativeLibraryResolver.Probe(kind);
        return probe.Found ? probe.LoadedFrom ?? "" : $"not found: searched {string.Join("; ", probe.Attempts)}";
    }

    private static string NvrtcVersion()
    {
        if (!NativeLibraryResolver.Probe(NativeLibraryKind.Nvrtc).Found)
        {
            return "[red]not found[/]";
        }
        (int major, int minor) = NvrtcCompiler.Version;
        return $"{major}.{minor}";
    }

    private static string NcclVersion()
    {
        if (!NativeLibraryResolver.Probe(NativeLibraryKind.Nccl).Found)
        {
            return "[red]not found[/]";
        }
        NcclCheck.Check(Nccl.ncclGetVersion(out int version));
        return $"{version / 10000}.{version / 100 % 100}.{version % 100}";
    }

    /// <summary>The kernel module's driver version (e.g. 580.159.04), which the driver API does not expose.</summary>
    private static string? KernelModuleVersion()
    {
        const string path = "/sys/module/nvidia/version";
        return File.Exists(path) ? File.ReadAllText(path).Trim() : null;
    }
}

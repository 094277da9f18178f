using System.Collections.Concurrent;
using DeepEP.Interop;
using static DeepEP.Cuda.CudaCheck;

namespace DeepEP.Cuda;

/// <summary>
/// A <c>__global__</c> function of a loaded <see cref="CudaModule"/>. The library's kernels take one parameter: a
/// blittable struct passed by value (<see cref="Launch{T}"/>); <see cref="Launch(in KernelLaunchConfig, ReadOnlySpan{nint})"/>
/// takes the usual array of pointers to each argument.
/// </summary>
internal sealed class CudaKernel
{
    private const int DefaultSharedMemoryLimit = 48 * 1024;

    private readonly CudaModule _module;
    private readonly ConcurrentDictionary<(int BlockSize, int SharedBytes), int> _occupancy = new();
    private readonly Lock _optInLock = new();
    private int _dynamicSharedMemoryOptIn = DefaultSharedMemoryLimit;

    internal CudaKernel(CudaModule module, nint function, string name)
    {
        _module = module;
        Function = function;
        Name = name;
    }

    /// <summary>The mangled name.</summary>
    public string Name { get; }

    /// <summary>The native <c>CUfunction</c>.</summary>
    public nint Function { get; }

    /// <summary>Device ordinal.</summary>
    public int Device => _module.Device;

    /// <summary>The module the kernel lives in (its <c>__device__</c> variables).</summary>
    public CudaModule Module => _module;

    /// <summary>Registers per thread.</summary>
    public int RegistersPerThread => GetAttribute(4);

    /// <summary>Reads a <c>CUfunction_attribute</c>.</summary>
    public int GetAttribute(int attribute)
    {
        Check(CudaDriver.cuFuncGetAttribute(out int value, attribute, Function));
        return value;
    }

    /// <summary>Sets a <c>CUfunction_attribute</c>.</summary>
    public void SetAttribute(int attribute, int value) => Check(CudaDriver.cuFuncSetAttribute(Function, attribute, value));

    /// <summary>How many blocks of <paramref name="blockSize"/> threads fit on one SM at once (remembered per shape).</summary>
    public int MaxActiveBlocksPerMultiprocessor(int blockSize, int dynamicSharedMemoryBytes = 0) =>
        _occupancy.GetOrAdd((blockSize, dynamicSharedMemoryBytes), static (key, kernel) =>
        {
            using CudaContextScope scope = CudaDevice.Get(kernel.Device).Activate();
            kernel.OptInSharedMemory(key.SharedBytes);
            Check(CudaDriver.cuOccupancyMaxActiveBlocksPerMultiprocessor(out int blocks, kernel.Function, key.BlockSize, (nuint)key.SharedBytes));
            return blocks;
        }, this);

    /// <summary>Launches with <paramref name="parameters"/> as the kernel's single by-value argument.</summary>
    public unsafe void Launch<T>(in KernelLaunchConfig config, in T parameters)
        where T : unmanaged
    {
        T copy = parameters;
        void* argument = &copy;
        LaunchCore(config, &argument);
    }

    /// <summary>Launches with <paramref name="argumentPointers"/>[i] pointing at argument i.</summary>
    public unsafe void Launch(in KernelLaunchConfig config, ReadOnlySpan<nint> argumentPointers)
    {
        fixed (nint* arguments = argumentPointers)
        {
            LaunchCore(config, (void**)arguments);
        }
    }

    private unsafe void LaunchCore(in KernelLaunchConfig config, void** arguments)
    {
        CudaDevice device = CudaDevice.Get(Device);
        using CudaContextScope scope = device.Activate();
        OptInSharedMemory(config.SharedMemoryBytes);
        if (DeviceWorkMeter.Launches.Enabled)
        {
            DeviceWorkMeter.Launches.Add(1, new KeyValuePair<string, object?>("kernel", Name));
        }
        nint stream = (config.Stream ?? device.LibraryStream).Handle;
        if (!config.Cooperative && config.Cluster is null)
        {
            Check(CudaDriver.cuLaunchKernel(
                Function,
                config.Grid.X, config.Grid.Y, config.Grid.Z,
                config.Block.X, config.Block.Y, config.Block.Z,
                (uint)config.SharedMemoryBytes, stream, arguments, null));
            return;
        }
        CuLaunchAttribute* attributes = stackalloc CuLaunchAttribute[2];
        uint count = 0;
        if (config.Cooperative)
        {
            attributes[count++] = new CuLaunchAttribute { Id = CuLaunchAttribute.Cooperative, Value0 = 1 };
        }
        if (config.Cluster is { } cluster)
        {
            attributes[count++] = new CuLaunchAttribute { Id = CuLaunchAttribute.ClusterDimension, Value0 = cluster.X, Value1 = cluster.Y, Value2 = cluster.Z };
        }
        var launch = new CuLaunchConfig
        {
            GridDimX = config.Grid.X,
            GridDimY = config.Grid.Y,
            GridDimZ = config.Grid.Z,
            BlockDimX = config.Block.X,
            BlockDimY = config.Block.Y,
            BlockDimZ = config.Block.Z,
            SharedMemBytes = (uint)config.SharedMemoryBytes,
            Stream = stream,
            Attributes = attributes,
            NumAttributes = count,
        };
        Check(CudaDriver.cuLaunchKernelEx(&launch, Function, arguments, null));
    }

    // Ranks sharing a device share this kernel: the limit only grows, under a lock, so no launch sees a smaller one.
    private void OptInSharedMemory(int bytes)
    {
        if (bytes <= Volatile.Read(ref _dynamicSharedMemoryOptIn))
        {
            return;
        }
        lock (_optInLock)
        {
            if (bytes > _dynamicSharedMemoryOptIn)
            {
                CudaDevice.Get(Device).QuiesceCallingThread();
                SetAttribute(CudaDriver.FunctionAttributeMaxDynamicSharedSizeBytes, bytes);
                Volatile.Write(ref _dynamicSharedMemoryOptIn, bytes);
            }
        }
    }

    /// <inheritdoc />
    public override string ToString() => $"{Name} on cuda:{Device}";
}

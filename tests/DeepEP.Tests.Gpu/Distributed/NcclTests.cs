using DeepEP.Cuda;
using DeepEP.Distributed;
using DeepEP.Interop;
using DeepEP.NativeLibraries;
using DeepEP.Tensors;
using static DeepEP.Distributed.NcclCheck;
using NcclApi = DeepEP.Interop.Nccl;

namespace DeepEP.Tests.Gpu.Distributed;

[Collection(GpuCollection.Name)]
public sealed class NcclTests(GpuFixture gpu)
{
    [Fact]
    public void VersionIsReported()
    {
        gpu.Require();
        EnsureLoaded();
        Check(NcclApi.ncclGetVersion(out int version));
        TestContext.Current.TestOutputHelper?.WriteLine($"NCCL {version / 10000}.{version / 100 % 100}.{version % 100} from {NativeLibraryResolver.Probe(NativeLibraryKind.Nccl).LoadedFrom}");
        Assert.True(version >= 21800, $"NCCL version code {version}");
    }

    [Fact]
    public void AllReduceSumsAcrossEveryVisibleGpu()
    {
        gpu.Require();
        EnsureLoaded();
        int n = CudaDevice.Count;
        const int count = 1 << 20;
        Check(NcclApi.ncclGetUniqueId(out NcclUniqueId id));
        var communicators = new nint[n];
        var buffers = new DeviceTensor[n];
        try
        {
            // ncclCommInitAll's recipe: one thread initialises every rank inside a group, each with its device current.
            Check(NcclApi.ncclGroupStart());
            for (int rank = 0; rank < n; rank++)
            {
                using CudaContextScope scope = CudaDevice.Get(rank).Activate();
                Check(NcclApi.ncclCommInitRank(out communicators[rank], n, id, rank));
            }
            Check(NcclApi.ncclGroupEnd());

            for (int rank = 0; rank < n; rank++)
            {
                float[] values = Enumerable.Range(0, count).Select(i => (float)((rank + 1) * (i % 7))).ToArray();
                buffers[rank] = DeviceTensor.FromArray<float>(values, [count], device: rank);
            }
            Check(NcclApi.ncclGroupStart());
            for (int rank = 0; rank < n; rank++)
            {
                using CudaContextScope scope = CudaDevice.Get(rank).Activate();
                nint stream = CudaDevice.Get(rank).LibraryStream.Handle;
                Check(NcclApi.ncclAllReduce(buffers[rank].Pointer, buffers[rank].Pointer, count, NcclDataType.Float32, NcclReductionOp.Sum, communicators[rank], stream));
            }
            Check(NcclApi.ncclGroupEnd());

            float factor = n * (n + 1) / 2f;
            for (int rank = 0; rank < n; rank++)
            {
                CudaDevice.Get(rank).LibraryStream.Synchronize();
                Check(NcclApi.ncclCommGetAsyncError(communicators[rank], out NcclResult asyncError));
                Assert.Equal(NcclResult.Success, asyncError);
                float[] result = buffers[rank].ToArray<float>();
                for (int i = 0; i < count; i += 9973)
                {
                    Assert.Equal(factor * (i % 7), result[i]);
                }
            }
            TestContext.Current.TestOutputHelper?.WriteLine($"all-reduce of {count} floats over {n} GPUs: OK");
        }
        finally
        {
            foreach (DeviceTensor? buffer in buffers)
            {
                buffer?.Dispose();
            }
            for (int rank = 0; rank < n; rank++)
            {
                if (communicators[rank] != 0)
                {
                    using CudaContextScope scope = CudaDevice.Get(rank).Activate();
                    Check(NcclApi.ncclCommDestroy(communicators[rank]));
                }
            }
        }
    }

    [Fact]
    public void FailedCallNamesTheApi()
    {
        gpu.Require();
        EnsureLoaded();
        var e = Assert.Throws<NcclException>(() => Check(NcclApi.ncclAllReduce(0, 0, 1, NcclDataType.Float32, NcclReductionOp.Sum, 0, 0)));
        Assert.Equal("ncclAllReduce", e.ApiName);
        Assert.Contains("ncclInvalid", e.ErrorName, StringComparison.Ordinal);
    }
}

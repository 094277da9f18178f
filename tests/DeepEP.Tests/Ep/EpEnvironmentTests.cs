using DeepEP.Ep;

namespace DeepEP.Tests.Ep;

public sealed class EpEnvironmentTests
{
    private static EpEnvironment With(params (string Name, string Value)[] variables) =>
        EpEnvironment.FromVariables(variables.ToDictionary(v => v.Name, v => v.Value));

    [Theory]
    [InlineData("kernels", EpBackendKind.Kernels)]
    [InlineData("NCCL", EpBackendKind.Nccl)]
    [InlineData(" host ", EpBackendKind.Host)]
    public void BackendParsesEveryValidName(string value, EpBackendKind expected) =>
        Assert.Equal(expected, With((EpEnvironment.BackendVariable, value)).Backend);

    [Theory]
    [InlineData("default", EpBackendKind.Kernels)]
    [InlineData("alltoall", EpBackendKind.Nccl)]
    public void UseModeIsAnAlias(string value, EpBackendKind expected) =>
        Assert.Equal(expected, With((EpEnvironment.UseModeVariable, value)).Backend);

    [Theory]
    [InlineData("kernels", "default", EpBackendKind.Kernels)]
    [InlineData("nccl", "AllToAll", EpBackendKind.Nccl)]
    public void AgreeingBackendAndUseModeAreAccepted(string backend, string mode, EpBackendKind expected) =>
        Assert.Equal(expected, With((EpEnvironment.BackendVariable, backend), (EpEnvironment.UseModeVariable, mode)).Backend);

    [Theory]
    [InlineData("host", "alltoall")]
    [InlineData("host", "default")]
    [InlineData("kernels", "alltoall")]
    [InlineData("nccl", "default")]
    public void DisagreeingBackendAndUseModeListTheValidPairs(string backend, string mode)
    {
        var e = Assert.Throws<InvalidOperationException>(() => With((EpEnvironment.BackendVariable, backend), (EpEnvironment.UseModeVariable, mode)).Backend);
        Assert.Contains($"DEEPEP_BACKEND='{backend}' and DEEP_USE_MODE='{mode}' disagree", e.Message, StringComparison.Ordinal);
        Assert.Contains("DEEPEP_BACKEND=kernels with DEEP_USE_MODE=default", e.Message, StringComparison.Ordinal);
        Assert.Contains("DEEPEP_BACKEND=nccl with DEEP_USE_MODE=alltoall", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("ops")]
    [InlineData("OPS")]
    public void OpsModeIsRefusedWithTheReason(string mode)
    {
        var e = Assert.Throws<InvalidOperationException>(() => With((EpEnvironment.UseModeVariable, mode)).Backend);
        Assert.Contains("aclnn operator kernels", e.Message, StringComparison.Ordinal);
        Assert.Contains("no NVIDIA equivalent", e.Message, StringComparison.Ordinal);
        Assert.Contains("default (DEEPEP_BACKEND=kernels)", e.Message, StringComparison.Ordinal);
        Assert.Contains("alltoall (DEEPEP_BACKEND=nccl)", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void OpsModeIsRefusedEvenBesideABackend() =>
        Assert.Throws<InvalidOperationException>(() => With((EpEnvironment.BackendVariable, "kernels"), (EpEnvironment.UseModeVariable, "ops")).Backend);

    [Fact]
    public void UnsetBackendIsNull() => Assert.Null(With().Backend);

    [Fact]
    public void UnknownBackendListsTheValidValues()
    {
        var e = Assert.Throws<InvalidOperationException>(() => With((EpEnvironment.BackendVariable, "mpi")).Backend);
        Assert.Contains("DEEPEP_BACKEND='mpi'", e.Message, StringComparison.Ordinal);
        Assert.Contains("kernels, nccl, host", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void UnknownUseModeListsTheValidValues()
    {
        var e = Assert.Throws<InvalidOperationException>(() => With((EpEnvironment.UseModeVariable, "fast")).Backend);
        Assert.Contains("default", e.Message, StringComparison.Ordinal);
        Assert.Contains("alltoall", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void CacheDirectoryDefaultsUnderTheHomeCache()
    {
        string home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        Assert.Equal(Path.Combine(home, ".cache", "deepep"), With().CacheDirectory);
    }

    [Fact]
    public void CacheDirectoryExpandsTilde()
    {
        string home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        Assert.Equal(Path.Combine(home, "kcache"), With((EpEnvironment.CacheDirectoryVariable, "~/kcache")).CacheDirectory);
        Assert.Equal("/tmp/k", With((EpEnvironment.CacheDirectoryVariable, "/tmp/k")).CacheDirectory);
    }

    [Fact]
    public void TimeoutDefaultsTo100Seconds() => Assert.Equal(TimeSpan.FromSeconds(100), With().Timeout);

    [Fact]
    public void TimeoutAcceptsFractionalSeconds() =>
        Assert.Equal(TimeSpan.FromSeconds(2.5), With((EpEnvironment.TimeoutVariable, "2.5")).Timeout);

    [Theory]
    [InlineData("0")]
    [InlineData("-3")]
    [InlineData("soon")]
    public void TimeoutRejectsNonPositiveOrGarbage(string value)
    {
        var e = Assert.Throws<InvalidOperationException>(() => With((EpEnvironment.TimeoutVariable, value)).Timeout);
        Assert.Contains(EpEnvironment.TimeoutVariable, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void LibraryOverridesAndCudaHomeAreExposed()
    {
        EpEnvironment env = With(
            (EpEnvironment.CudaLibraryVariable, "/x/libcuda.so.1"),
            (EpEnvironment.NvrtcLibraryVariable, "/x/libnvrtc.so.13"),
            (EpEnvironment.NcclLibraryVariable, "/x/libnccl.so.2"),
            (EpEnvironment.CudaHomeVariable, "/opt/cuda"));
        Assert.Equal("/x/libcuda.so.1", env.CudaLibrary);
        Assert.Equal("/x/libnvrtc.so.13", env.NvrtcLibrary);
        Assert.Equal("/x/libnccl.so.2", env.NcclLibrary);
        Assert.Equal("/opt/cuda", env.CudaHome);
    }

    [Fact]
    public void EmptyValuesCountAsUnset()
    {
        EpEnvironment env = With((EpEnvironment.CudaHomeVariable, "  "), (EpEnvironment.BackendVariable, ""));
        Assert.Null(env.CudaHome);
        Assert.Null(env.Backend);
    }
}

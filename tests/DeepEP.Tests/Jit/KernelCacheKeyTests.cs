using DeepEP.Jit;

namespace DeepEP.Tests.Jit;

public sealed class KernelCacheKeyTests
{
    private static readonly KernelHeader[] s_headers =
    [
        new("deep_ep/common/a.cuh", "int a;"),
        new("deep_ep/common/b.cuh", "int b;"),
    ];

    private static readonly string[] s_options = ["--gpu-architecture=sm_90a", "-std=c++17", "-default-device"];

    private static string Key(
        string source = "src",
        IReadOnlyList<string>? expressions = null,
        IReadOnlyList<KernelHeader>? headers = null,
        (int, int)? version = null,
        IReadOnlyList<string>? options = null,
        string architecture = "sm_90a") =>
        KernelCacheKey.Compute(source, expressions ?? ["k<1>"], headers ?? s_headers, version ?? (13, 0), options ?? s_options, architecture);

    [Fact]
    public void SameInputsGiveTheSameKey()
    {
        Assert.Equal(Key(), Key());
        Assert.Matches("^[0-9a-f]{64}$", Key());
    }

    [Fact]
    public void HeaderOrderDoesNotMatter() => Assert.Equal(Key(), Key(headers: [s_headers[1], s_headers[0]]));

    [Fact]
    public void EveryInputChangesTheKey()
    {
        string baseline = Key();
        Assert.NotEqual(baseline, Key(source: "src "));
        Assert.NotEqual(baseline, Key(expressions: ["k<2>"]));
        Assert.NotEqual(baseline, Key(expressions: ["k<1>", "k<2>"]));
        Assert.NotEqual(baseline, Key(headers: [s_headers[0], new("deep_ep/common/b.cuh", "int b; ")]));
        Assert.NotEqual(baseline, Key(headers: [s_headers[0], new("deep_ep/common/c.cuh", "int b;")]));
        Assert.NotEqual(baseline, Key(headers: [s_headers[0]]));
        Assert.NotEqual(baseline, Key(version: (12, 9)));
        Assert.NotEqual(baseline, Key(options: [.. s_options, "-lineinfo"]));
        Assert.NotEqual(baseline, Key(architecture: "sm_100a"));
    }

    [Fact]
    public void FieldsCannotRunTogether()
    {
        Assert.NotEqual(Key(options: ["-a", "b"]), Key(options: ["-ab"]));
        Assert.NotEqual(
            Key(headers: [new("x", "yz")]),
            Key(headers: [new("xy", "z")]));
    }
}

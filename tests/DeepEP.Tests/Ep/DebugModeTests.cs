using System.Collections.Concurrent;
using DeepEP.Ep;
using DeepEP.Tensors;
using Microsoft.Extensions.Logging;

namespace DeepEP.Tests.Ep;

/// <summary>DEBUG_MODE / <see cref="EpBufferOptions.DebugMode"/>: every EpBuffer operation logs its parameters and time at Debug level.</summary>
public sealed class DebugModeTests
{
    [Fact]
    public void EveryNormalModeOperationLogsItsParametersAndTime()
    {
        var capture = new CapturingProvider();
        using (ILoggerFactory factory = LoggerFactory.Create(builder => builder.SetMinimumLevel(LogLevel.Debug).AddProvider(capture)))
        {
            using var buffer = HostBuffers.Single(options: new EpBufferOptions { DebugMode = true, LoggerFactory = factory });
            Assert.True(buffer.DebugMode);
            using var routing = new DispatchArgumentTests.Routing(buffer);
            using var x = DispatchArgumentTests.Random(4, 128);
            using DispatchResult result = routing.Dispatch(x);
            using CombineResult combined = buffer.Combine(result.RecvX, result.Handle!);
        }
        Entry[] entries = [.. capture.Entries];
        Assert.All(entries, e => Assert.Equal(LogLevel.Debug, e.Level));
        Assert.All(entries, e => Assert.Equal(typeof(EpBuffer).FullName, e.Category));
        Assert.All(entries, e => Assert.Matches(@"rank 0/1 backend Host: .*; \d+\.\d us$", e.Message));
        Assert.Equal(["Create", "GetDispatchLayout", "Dispatch", "Combine", "Dispose"], entries.Select(e => e.Operation));
        Assert.Contains("topkIdx=Int64[4, 2] on host, numExperts=8", entries[1].Message, StringComparison.Ordinal);
        Assert.Contains("x=BFloat16[4, 128] on host", entries[2].Message, StringComparison.Ordinal);
        Assert.Contains("NumSms = ", entries[2].Message, StringComparison.Ordinal);
        Assert.Contains("numRecvTokensPerExpertList (Counts)=[1, 1, 1, 1, 1, 1, 1, 0]", entries[2].Message, StringComparison.Ordinal);
    }

    [Fact]
    public void LowLatencyOperationsLogWhatWasSent()
    {
        const int N = 8, Hidden = 512, Experts = 4;
        var capture = new CapturingProvider();
        using ILoggerFactory factory = LoggerFactory.Create(builder => builder.SetMinimumLevel(LogLevel.Debug).AddProvider(capture));
        using var buffer = HostBuffers.Single(rdmaBytes: EpBuffer.GetLowLatencyRdmaSizeHint(N, Hidden, 1, Experts),
            options: new EpBufferOptions { DebugMode = true, LoggerFactory = factory, Bf16Dispatch = true });
        using var x = DispatchArgumentTests.Random(2, Hidden);
        using var topk = HostBuffers.Topk([0, 1, 2, 3], 2);
        using var weights = DeviceTensor.FromArray<float>([1f, 1f, 1f, 1f], [2, 2]);
        LowLatencyDispatchResult dispatched = buffer.LowLatencyDispatch(x, topk, N, Experts, useFp8: true);
        using var expertOutput = HostBuffers.Zeros(DType.BFloat16, Experts, N, Hidden);
        buffer.LowLatencyCombine(expertOutput, topk, weights, dispatched.Handle);
        buffer.CleanLowLatencyBuffer(N, Hidden, Experts);
        Entry[] entries = [.. capture.Entries];
        Assert.Equal(["Create", "LowLatencyDispatch", "LowLatencyCombine", "CleanLowLatencyBuffer"], entries.Select(e => e.Operation));
        Assert.Contains("bf16Dispatch=True", entries[0].Message, StringComparison.Ordinal);
        Assert.Contains("useFp8=True (sent BF16)", entries[1].Message, StringComparison.Ordinal);
    }

    [Fact]
    public void OffLogsNothingEvenWithALoggerFactory()
    {
        var capture = new CapturingProvider();
        using ILoggerFactory factory = LoggerFactory.Create(builder => builder.SetMinimumLevel(LogLevel.Trace).AddProvider(capture));
        using (var buffer = HostBuffers.Single(options: new EpBufferOptions { DebugMode = false, LoggerFactory = factory }))
        {
            Assert.False(buffer.DebugMode);
            using var routing = new DispatchArgumentTests.Routing(buffer);
            using var x = DispatchArgumentTests.Random(4, 128);
            using DispatchResult result = routing.Dispatch(x);
        }
        Assert.Empty(capture.Entries);
        Assert.Equal(0, capture.LoggersCreated);
    }

    [Fact]
    public void AFactoryFilteringOutDebugGetsNothing()
    {
        var capture = new CapturingProvider();
        using ILoggerFactory factory = LoggerFactory.Create(builder => builder.SetMinimumLevel(LogLevel.Information).AddProvider(capture));
        using (var buffer = HostBuffers.Single(options: new EpBufferOptions { DebugMode = true, LoggerFactory = factory }))
        {
            using var routing = new DispatchArgumentTests.Routing(buffer);
        }
        Assert.Empty(capture.Entries);
    }

    private sealed record Entry(LogLevel Level, string Category, string Operation, string Message);

    private sealed class CapturingProvider : ILoggerProvider
    {
        private int _loggersCreated;

        public ConcurrentQueue<Entry> Entries { get; } = new();

        public int LoggersCreated => _loggersCreated;

        public ILogger CreateLogger(string categoryName)
        {
            Interlocked.Increment(ref _loggersCreated);
            return new Logger(this, categoryName);
        }

        public void Dispose()
        {
        }

        private sealed class Logger(CapturingProvider provider, string category) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state)
                where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                string operation = state is IReadOnlyList<KeyValuePair<string, object?>> values
                    ? values.FirstOrDefault(v => v.Key == "Operation").Value as string ?? ""
                    : "";
                provider.Entries.Enqueue(new Entry(logLevel, category, operation, formatter(state, exception)));
            }
        }
    }
}

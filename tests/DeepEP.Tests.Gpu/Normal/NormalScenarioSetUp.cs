using DeepEP.Ep;
using DeepEP.Tensors;

namespace DeepEP.Tests.Gpu.Normal;

/// <summary>
/// What every normal-mode scenario starts from: one rank's inputs of a <see cref="NormalRun"/> on the buffer's device
/// (x, top-k indices and weights) and the config every call uses.
/// </summary>
internal sealed class NormalScenarioSetUp : IDisposable
{
    public NormalScenarioSetUp(EpBuffer buffer, NormalRun run)
    {
        Device = buffer.Device;
        Inputs = run.Case.For(buffer.Rank);
        Config = new EpConfig(run.NumSms, 6, 256);
        X = Inputs.XOn(Device);
        Topk = Inputs.TopkOn(Device);
        Weights = Inputs.WeightsOn(Device);
    }

    public int Device { get; }

    public RankInputs Inputs { get; }

    public EpConfig Config { get; }

    public DeviceTensor X { get; }

    public DeviceTensor Topk { get; }

    public DeviceTensor Weights { get; }

    /// <summary>A tensor's bytes, copied to the host.</summary>
    public static byte[] Bytes(DeviceTensor t)
    {
        using DeviceTensor host = t.To(DeviceTensor.HostDevice);
        return host.AsSpan<byte>().ToArray();
    }

    /// <summary>Makes the current stream wait for an asynchronous call (an event that is null finished synchronously).</summary>
    public static void Wait(EventOverlap e)
    {
        if (e.Event is not null)
        {
            e.CurrentStreamWait();
        }
    }

    public void Dispose()
    {
        Weights.Dispose();
        Topk.Dispose();
        X.Dispose();
    }
}

using DeepEP.Tensors;

namespace DeepEP.Ep;

/// <summary>
/// What a low-latency handle made with shared-expert ranks carries: the layout, and the routed top-k copies the backend
/// reads (the dispatch's and each combine's), kept alive until the handle is disposed since kernels may still read them.
/// </summary>
internal sealed class SharedExpertRouting(SharedExpertLayout layout) : IDisposable
{
    private readonly List<DeviceTensor> _retained = [];

    /// <summary>The expert layout of the dispatch.</summary>
    public SharedExpertLayout Layout { get; } = layout;

    /// <summary>Keeps <paramref name="tensor"/> alive until <see cref="Dispose"/>, and returns it.</summary>
    public DeviceTensor Retain(DeviceTensor tensor)
    {
        lock (_retained)
        {
            _retained.Add(tensor);
        }
        return tensor;
    }

    /// <summary>Frees every retained tensor.</summary>
    public void Dispose()
    {
        lock (_retained)
        {
            foreach (DeviceTensor tensor in _retained)
            {
                tensor.Dispose();
            }
            _retained.Clear();
        }
    }
}

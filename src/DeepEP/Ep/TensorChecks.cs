using System.Runtime.CompilerServices;
using DeepEP.Tensors;

namespace DeepEP.Ep;

/// <summary>Argument checks shared by the public API: each throws an <see cref="ArgumentException"/> naming the argument and what would be valid.</summary>
internal static class TensorChecks
{
    /// <summary>A dimension that may take any size in <see cref="Require"/>.</summary>
    public const long AnySize = -1;

    /// <summary>
    /// Checks dtype, shape (<see cref="AnySize"/> as a wildcard), device and, unless <paramref name="allowStrided"/>, contiguity.
    /// </summary>
    public static DeviceTensor Require(DeviceTensor? tensor, string name, DType dtype, int device, ReadOnlySpan<long> shape, bool allowStrided = false)
    {
        if (tensor is null)
        {
            throw new ArgumentNullException(name, $"{name} is required here.");
        }
        RequireAlive(tensor, name);
        bool shapeOk = tensor.Rank == shape.Length;
        for (int d = 0; shapeOk && d < shape.Length; d++)
        {
            shapeOk = shape[d] == AnySize || tensor.Size(d) == shape[d];
        }
        if (tensor.DType != dtype || !shapeOk || tensor.Device != device || (!allowStrided && !tensor.IsContiguous))
        {
            // Built only here: every call checks its tensors, and the message costs more than the check.
            string expected = $"{dtype} [{string.Join(", ", shape.ToArray().Select(s => s == AnySize ? "*" : s.ToString(System.Globalization.CultureInfo.InvariantCulture)))}]{(allowStrided ? "" : " contiguous")} on {DeviceName(device)}";
            throw new ArgumentException($"{name} must be {expected}; got {tensor.Describe()}.", name);
        }
        return tensor;
    }

    /// <summary>Throws <see cref="ObjectDisposedException"/> naming <paramref name="name"/> when the tensor's memory was freed.</summary>
    public static void RequireAlive(DeviceTensor tensor, string name)
    {
        if (tensor.IsDisposed)
        {
            // Reading freed memory crashes the process or, once the memory is reused, returns garbage.
            throw new ObjectDisposedException(name,
                $"{name} ({tensor.Describe()}) was disposed before this call; keep it (and the result or handle it came from) alive until the call returns.");
        }
    }

    /// <summary>Every count must be ≥ 0 (a host copy of <paramref name="counts"/>).</summary>
    public static void RequireNonNegative(int[] counts, string name)
    {
        int index = Array.FindIndex(counts, n => n < 0);
        That(index < 0, name, $"{name}[{index}] = {(index < 0 ? 0 : counts[index])} is negative; counts are ≥ 0 (pass the tensors from GetDispatchLayout).");
    }

    /// <summary>Throws when <paramref name="condition"/> is false, with a message naming <paramref name="name"/>.</summary>
    public static void That(bool condition, string name, string message)
    {
        if (!condition)
        {
            throw new ArgumentException(message, name);
        }
    }

    /// <summary>As <see cref="That(bool, string, string)"/>, with an interpolated message that is formatted only when <paramref name="condition"/> is false.</summary>
    public static void That(bool condition, string name, [InterpolatedStringHandlerArgument(nameof(condition))] ref FailureMessage message)
    {
        if (!condition)
        {
            throw new ArgumentException(message.ToStringAndClear(), name);
        }
    }

    /// <summary>
    /// Every top-k entry must be -1 (masked slot) or a valid expert id in [0, <paramref name="numExperts"/>); with
    /// <paramref name="distinct"/>, no row may name an expert twice.
    /// </summary>
    public static void RequireExpertIds(DeviceTensor topkIdx, string name, int numExperts, bool distinct = false)
    {
        long[] ids = topkIdx.ToArray<long>();
        long columns = topkIdx.Rank == 2 ? topkIdx.Size(1) : 1;
        for (long i = 0; i < ids.Length; i++)
        {
            if (ids[i] != -1 && (ids[i] < 0 || ids[i] >= numExperts))
            {
                throw new ArgumentException(
                    $"{name}[{i / columns}, {i % columns}] = {ids[i]} is not an expert id: use -1 for a masked slot or a value in [0, {numExperts}).",
                    name);
            }
            long rowStart = i - (i % columns);
            That(!distinct || ids[i] < 0 || Array.IndexOf(ids, ids[i], (int)rowStart, (int)(i - rowStart)) < 0, name,
                $"{name}[{i / columns}] selects expert {ids[i]} twice; low-latency mode holds one copy per (token, expert), so top-k ids must be distinct.");
        }
    }

    /// <summary>"host" or "cuda:N".</summary>
    public static string DeviceName(int device) => device == DeviceTensor.HostDevice ? "host" : $"cuda:{device}";
}

using System.Runtime.CompilerServices;

namespace DeepEP.Ep;

/// <summary>
/// The interpolated message of a check (<see cref="TensorChecks.That(bool, string, ref FailureMessage)"/>), formatted
/// only when the check fails: the checks run on every call, and formatting their messages up front cost the host more
/// than the checks themselves.
/// </summary>
[InterpolatedStringHandler]
internal ref struct FailureMessage
{
    private DefaultInterpolatedStringHandler _text;

    public FailureMessage(int literalLength, int formattedCount, bool condition, out bool shouldAppend)
    {
        shouldAppend = !condition;
        _text = shouldAppend ? new DefaultInterpolatedStringHandler(literalLength, formattedCount) : default;
    }

    public void AppendLiteral(string value) => _text.AppendLiteral(value);

    public void AppendFormatted<T>(T value) => _text.AppendFormatted(value);

    public void AppendFormatted<T>(T value, string? format) => _text.AppendFormatted(value, format);

    public void AppendFormatted<T>(T value, int alignment) => _text.AppendFormatted(value, alignment);

    public void AppendFormatted<T>(T value, int alignment, string? format) => _text.AppendFormatted(value, alignment, format);

    /// <summary>The message; call once, on failure.</summary>
    public string ToStringAndClear() => _text.ToStringAndClear();
}

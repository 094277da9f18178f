using System.Diagnostics;

namespace DeepEP.Distributed;

/// <summary>The monotonic instant by which a collective must finish.</summary>
internal readonly record struct Deadline
{
    /// <summary>Longest accepted timeout: what <see cref="Monitor.Wait(object, int)"/> and socket timeouts take, in milliseconds.</summary>
    public static readonly TimeSpan MaxTimeout = TimeSpan.FromMilliseconds(int.MaxValue);

    private readonly long expiresAt;

    private Deadline(long expiresAt) => this.expiresAt = expiresAt;

    /// <summary>The deadline <paramref name="timeout"/> from now.</summary>
    public static Deadline After(TimeSpan timeout) => After(Stopwatch.GetTimestamp(), timeout);

    /// <summary>The deadline <paramref name="timeout"/> after <paramref name="startTimestamp"/> (a <see cref="Stopwatch"/> timestamp).</summary>
    public static Deadline After(long startTimestamp, TimeSpan timeout) =>
        new(startTimestamp + (long)(timeout.TotalSeconds * Stopwatch.Frequency));

    /// <summary>Throws unless 0 &lt; <paramref name="timeout"/> ≤ <see cref="MaxTimeout"/>.</summary>
    public static TimeSpan Validate(TimeSpan timeout, string paramName)
    {
        if (timeout <= TimeSpan.Zero || timeout > MaxTimeout)
        {
            throw new ArgumentOutOfRangeException(paramName, timeout, $"A timeout must be positive and at most {MaxTimeout.TotalDays:0} days.");
        }
        return timeout;
    }

    /// <summary>Whether the instant has passed.</summary>
    public bool HasPassed => Stopwatch.GetTimestamp() >= expiresAt;

    /// <summary>Time left, zero once passed.</summary>
    public TimeSpan Remaining
    {
        get
        {
            long now = Stopwatch.GetTimestamp();
            return now >= expiresAt ? TimeSpan.Zero : Stopwatch.GetElapsedTime(now, expiresAt);
        }
    }

    /// <summary>Time left in whole milliseconds, rounded up so a wait never ends early; zero once passed.</summary>
    public int RemainingMilliseconds => (int)Math.Min(int.MaxValue, Math.Ceiling(Remaining.TotalMilliseconds));

    /// <summary>This deadline moved later by <paramref name="extra"/>.</summary>
    public Deadline Extend(TimeSpan extra) => new(expiresAt + (long)(extra.TotalSeconds * Stopwatch.Frequency));

    /// <summary>Whether this deadline comes before <paramref name="other"/>.</summary>
    public bool IsBefore(Deadline other) => expiresAt < other.expiresAt;
}

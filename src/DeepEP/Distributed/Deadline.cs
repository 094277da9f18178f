using System.Diagnostics;

namespace DeepEP.Distributed;

/// <summary>The monotonic instant by which a collective must finish.</summary>
internal readonly record struct Deadline
{
    private readonly long expiresAt;

    private Deadline(long expiresAt) => this.expiresAt = expiresAt;

    /// <summary>The deadline <paramref name="timeout"/> from now.</summary>
    public static Deadline After(TimeSpan timeout) => After(Stopwatch.GetTimestamp(), timeout);

    /// <summary>The deadline <paramref name="timeout"/> after <paramref name="startTimestamp"/> (a <see cref="Stopwatch"/> timestamp).</summary>
    public static Deadline After(long startTimestamp, TimeSpan timeout) =>
        new(startTimestamp + (long)(timeout.TotalSeconds * Stopwatch.Frequency));

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

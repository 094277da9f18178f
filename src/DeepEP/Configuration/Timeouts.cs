namespace DeepEP.Configuration;

/// <summary>The limits of every timeout and the one place a timeout is resolved from an argument or <c>DEEPEP_TIMEOUT_S</c>.</summary>
internal static class Timeouts
{
    /// <summary>The timeout used when <c>DEEPEP_TIMEOUT_S</c> is unset.</summary>
    public static readonly TimeSpan Default = TimeSpan.FromSeconds(100);

    /// <summary>Longest accepted timeout: what <see cref="Monitor.Wait(object, int)"/> and socket timeouts take, in milliseconds.</summary>
    public static readonly TimeSpan Max = TimeSpan.FromMilliseconds(int.MaxValue);

    /// <summary>Largest <c>DEEPEP_TIMEOUT_S</c>: what host waits accept (<see cref="int.MaxValue"/> milliseconds).</summary>
    public const int MaxSeconds = int.MaxValue / 1000;

    /// <summary>Throws unless 0 &lt; <paramref name="timeout"/> ≤ <see cref="Max"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="timeout"/> is out of that range.</exception>
    public static TimeSpan Validate(TimeSpan timeout, string paramName)
    {
        if (timeout <= TimeSpan.Zero || timeout > Max)
        {
            throw new ArgumentOutOfRangeException(paramName, timeout, $"A timeout must be positive and at most {Max.TotalDays:0} days.");
        }
        return timeout;
    }

    /// <summary>
    /// The one deadline source of every backend and process group: <paramref name="timeout"/> when given, else
    /// <c>DEEPEP_TIMEOUT_S</c> (read now, from <paramref name="environment"/>, default <see cref="EnvironmentKnobs.Current"/>), else <see cref="Default"/>.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="timeout"/> is not positive or longer than about 24 days.</exception>
    /// <exception cref="InvalidOperationException">The variable is used and invalid.</exception>
    public static TimeSpan Resolve(TimeSpan? timeout, string paramName, EnvironmentKnobs? environment = null) =>
        timeout is { } given ? Validate(given, paramName) : (environment ?? EnvironmentKnobs.Current).Timeout;
}

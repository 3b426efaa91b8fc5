namespace FlowPolicy.Core.Retry;

/// <summary>
/// The one retry delay of FlowPolicy: exponential (the initial delay doubles with each failure), capped, and jittered
/// downwards by up to <see cref="Jitter"/> of the delay so that workers failing together (ClickHouse restarting) do not
/// retry in lockstep. A delay never exceeds the cap. One instance per retry loop: it counts that loop's failures.
/// </summary>
public sealed class Backoff
{
    private readonly Random _random;

    /// <param name="initial">The delay after the first failure (above zero).</param>
    /// <param name="max">The cap (at least <paramref name="initial"/>).</param>
    /// <param name="jitter">Share of each delay taken off at random, 0 (none) to 1; 0.2 by default.</param>
    /// <param name="random">Tests: a seeded source; <see cref="Random.Shared"/> otherwise.</param>
    public Backoff(TimeSpan initial, TimeSpan max, double jitter = DefaultJitter, Random? random = null)
    {
        Validate(initial, max, jitter);
        Initial = initial;
        Max = max;
        Jitter = jitter;
        _random = random ?? Random.Shared;
    }

    public const double DefaultJitter = 0.2;

    public TimeSpan Initial { get; }
    public TimeSpan Max { get; }
    public double Jitter { get; }
    /// <summary>Failures counted so far (calls of <see cref="Next"/>).</summary>
    public int Failures { get; private set; }

    /// <summary>Throws <see cref="ArgumentException"/> naming what is wrong with the settings.</summary>
    public static void Validate(TimeSpan initial, TimeSpan max, double jitter = DefaultJitter)
    {
        if (initial <= TimeSpan.Zero) throw new ArgumentException($"The initial retry delay must be above zero, not {initial}.", nameof(initial));
        if (max < initial) throw new ArgumentException($"The retry delay cap ({max}) must be at least the initial delay ({initial}).", nameof(max));
        if (jitter is < 0 or > 1 || double.IsNaN(jitter)) throw new ArgumentException($"The retry jitter must be between 0 and 1, not {jitter}.", nameof(jitter));
    }

    /// <summary>The un-jittered delay after failure number <paramref name="failures"/> (1 = the first): initial x 2^(n-1), capped.</summary>
    public static TimeSpan Ceiling(TimeSpan initial, TimeSpan max, int failures)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(failures, 1);
        int doublings = Math.Min(failures - 1, 62);
        // Compare before multiplying: initial.Ticks << doublings overflows long long before the cap is reached.
        return initial.Ticks > max.Ticks >> doublings ? max : TimeSpan.FromTicks(Math.Min(max.Ticks, initial.Ticks << doublings));
    }

    /// <summary>Counts a failure and returns how long to wait before the next attempt.</summary>
    public TimeSpan Next()
    {
        Failures++;
        var ceiling = Ceiling(Initial, Max, Failures);
        if (Jitter == 0) return ceiling;
        return TimeSpan.FromTicks(ceiling.Ticks - (long)(ceiling.Ticks * Jitter * _random.NextDouble()));
    }

    /// <summary>Counts a failure and waits the delay on <paramref name="time"/>; returns the delay. Throws when cancelled.</summary>
    public async Task<TimeSpan> WaitAsync(CancellationToken cancellationToken, TimeProvider? time = null)
    {
        var delay = Next();
        await Task.Delay(delay, time ?? TimeProvider.System, cancellationToken).ConfigureAwait(false);
        return delay;
    }

    /// <summary>Starts counting again (after a success, for a loop that keeps running).</summary>
    public void Reset() => Failures = 0;
}

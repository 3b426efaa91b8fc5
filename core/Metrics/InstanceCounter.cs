using System.Diagnostics.Metrics;

namespace FlowPolicy.Core.Metrics;

/// <summary>
/// One instance's share of a counter on a static (library) Meter: components created per run (the edge source, the
/// intent evaluator) count on their Meter for /metrics and keep their own total for the caller that made them (the
/// CLI's summary, tests). Thread-safe.
/// </summary>
public sealed class InstanceCounter(Counter<long> counter)
{
    private long _value;

    /// <summary>What this instance counted.</summary>
    public long Value => Interlocked.Read(ref _value);

    public void Add(long amount)
    {
        if (amount == 0) return;
        Interlocked.Add(ref _value, amount);
        counter.Add(amount);
    }
}

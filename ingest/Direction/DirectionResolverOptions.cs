using FlowPolicy.Ingest.Direction.Internal;

namespace FlowPolicy.Ingest.Direction;

/// <summary>Options of <see cref="DirectionResolver"/>.</summary>
internal sealed class DirectionResolverOptions
{
    /// <summary>Most endpoints (address, port, protocol) remembered; older ones are evicted a generation at a time.</summary>
    public int MaxTrackedEndpoints { get; set; } = 1_000_000;
    /// <summary>Distinct peer ports an endpoint needs (and more than the other side has) to count as a listener.</summary>
    public int MinFanIn { get; set; } = 2;
    public TcpFlagsDialect TcpFlags { get; set; } = TcpFlagsDialect.Auto;

    public void Validate()
    {
        if (MaxTrackedEndpoints < 2) throw new ArgumentException("MaxTrackedEndpoints must be at least 2.");
        if (MinFanIn < 2 || MinFanIn > EndpointStats.PeerCapacity)
            throw new ArgumentException($"MinFanIn must be between 2 and {EndpointStats.PeerCapacity}.");
        if (!Enum.IsDefined(TcpFlags)) throw new ArgumentException($"Unknown TCP flags dialect {TcpFlags}.");
    }
}

/// <summary>
/// Counters of one <see cref="DirectionResolver"/> (written by its one worker thread, readable from any); the ingest
/// worker publishes its lanes' sums on its Meter (<c>flowpolicy.ingest.direction.*</c>, docs/metrics.md).
/// </summary>
internal sealed class DirectionMetrics
{
    private readonly long[] _bySignal = new long[8];
    internal long ObservedField;
    internal long FlippedField;

    public long Observed => Volatile.Read(ref ObservedField);
    public long Resolved
    {
        get
        {
            long total = 0;
            for (int i = 0; i < _bySignal.Length; i++) total += Volatile.Read(ref _bySignal[i]);
            return total;
        }
    }
    /// <summary>Records stored the other way round: the sender was the server (a reply half), or it named the server first.</summary>
    public long Flipped => Volatile.Read(ref FlippedField);
    /// <summary>Endpoints dropped from the listener table to keep it within its bound.</summary>
    public long EvictedEndpoints { get; internal set; }
    public int TrackedEndpoints { get; internal set; }

    public long DecidedBy(DirectionSignal signal) => Volatile.Read(ref _bySignal[(int)signal]);

    internal void Count(DirectionSignal signal) => _bySignal[(int)signal]++;
}

namespace FlowPolicy.Analytics.Baseline;

/// <summary>Why an observed edge is noise rather than a dependency to allow (suggest leaves it out, check does not fail on it).</summary>
public enum LeaveOutReason : byte
{
    /// <summary>Only reply records: replies never become rules.</summary>
    ReplyOnly,
    /// <summary>Probes of a client that scans ports or servers.</summary>
    Scanner,
    /// <summary>A short-lived pod without a controller (debug shell, kubectl run).</summary>
    BarePod,
    /// <summary>A Service virtual address on either side: policies act after DNAT.</summary>
    ServiceAddress,
    /// <summary>Address to address: neither side is in the cluster.</summary>
    OutsideCluster,
    /// <summary>A node's host traffic to or from an outside address.</summary>
    NodeTraffic,
    /// <summary>A workload without stable labels: no selector can pick its pods alone.</summary>
    NoSelector,
    /// <summary>Seen once, across a boundary (namespace pair, workload group) the rest of the traffic respects.</summary>
    OneOffCrossing,
}

/// <summary>The documented texts of <see cref="LeaveOutReason"/> (suggestions.json <c>left_out[].reason</c>, check's blocked noise).</summary>
public static class LeaveOutReasons
{
    private static readonly string[] Names =
        ["reply-only", "scanner", "bare-pod", "service-address", "outside-cluster", "node-traffic", "no-selector", "one-off-crossing"];

    private static readonly string[] Descriptions =
    [
        "only reply records: the server's half of connections whose requests were not seen; replies never become rules",
        "probes of a client that scans ports or servers",
        "a short-lived pod without a controller (debug shell, kubectl run)",
        "a Service virtual address on either side: policies act after DNAT, on the pods behind it",
        "address to address: neither side is in the cluster",
        "a node's host traffic to or from an outside address",
        "a workload without stable labels: no selector can pick its pods alone",
        "seen once, across a boundary (namespace pair, workload group) the rest of the traffic respects",
    ];

    public static string Name(this LeaveOutReason reason) => Names[(int)reason];

    /// <summary>What the reason means, in a sentence a report shows next to its count.</summary>
    public static string Description(this LeaveOutReason reason) => Descriptions[(int)reason];
}

/// <summary>Why one edge is noise: the reason and a sentence with the numbers that decided it.</summary>
public readonly record struct NoiseVerdict(LeaveOutReason Reason, string Detail)
{
    public string ReasonName => Reason.Name();
}

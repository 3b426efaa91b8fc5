using FlowPolicy.Core.Net;

namespace FlowPolicy.Core.Edges;

/// <summary>
/// Observed traffic from a client endpoint to a server endpoint's port, with the evidence that backs it.
/// Produced by the in-memory aggregate of flow files and by the ClickHouse rollups alike.
/// </summary>
public sealed class Edge
{
    public const int HoursPerWeek = 168;

    public Edge(Endpoint client, Endpoint server, ushort port, byte protocol)
    {
        Client = client;
        Server = server;
        Port = port;
        Protocol = protocol;
    }

    public Endpoint Client { get; }
    public Endpoint Server { get; }
    /// <summary>Server port; 0 for protocols without ports (ICMP).</summary>
    public ushort Port { get; }
    public byte Protocol { get; }

    /// <summary>Request-direction records (reply records add bytes and packets, not flows).</summary>
    public long Flows { get; set; }
    /// <summary>Bytes in both directions of the connections.</summary>
    public ulong Bytes { get; set; }
    public ulong Packets { get; set; }
    public DateTime FirstSeen { get; set; }
    public DateTime LastSeen { get; set; }
    public long AllowedFlows { get; set; }
    public long DeniedFlows { get; set; }
    public long UnknownVerdictFlows { get; set; }
    /// <summary>Distinct client replicas (pod names, or addresses when no pod name is known).</summary>
    public int ClientReplicas { get; set; }
    /// <summary>Distinct UTC days with at least one flow, ascending.</summary>
    public IReadOnlyList<DateOnly> Days { get; set; } = [];
    /// <summary>Flows per hour of the week, UTC, Monday 00:00-01:00 first (stored sparsely: only hours with flows).</summary>
    public HourOfWeekCounts HourOfWeek { get; } = new();
    /// <summary>L7 operations and DNS names seen on the edge (Hubble L7 records, DNS answers); null when none.</summary>
    public EdgeL7Facts? L7 { get; set; }

    public int DaysSeen => Days.Count;
    public string ProtocolName => IpProtocols.Name(Protocol);

    /// <summary>Hour-of-week bucket of a UTC time: Monday 00:00 is 0.</summary>
    public static int HourOfWeekOf(DateTime utc) => (((int)utc.DayOfWeek + 6) % 7) * 24 + utc.Hour;

    public override string ToString() => $"{Client} -> {Server}:{Port}/{ProtocolName}";
}

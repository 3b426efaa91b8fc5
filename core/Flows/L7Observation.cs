using FlowPolicy.Core.Net;

namespace FlowPolicy.Core.Flows;

/// <summary>Which application protocol an <see cref="L7Observation"/> describes.</summary>
public enum L7Protocol : byte
{
    None = 0,
    Http = 1,
    /// <summary>HTTP/2 to a <c>/package.Service/Method</c> path: gRPC (Hubble reports it as HTTP).</summary>
    Grpc = 2,
    Dns = 3,
    Kafka = 4,
    /// <summary>
    /// No L7 record: the names Hubble attached to an L3/L4 flow (<c>destination_names</c>/<c>source_names</c>, from
    /// the DNS answers Cilium's proxy saw for that pod).
    /// </summary>
    Names = 5,
}

/// <summary>Request or response half of an L7 exchange (Hubble's <c>l7.type</c>).</summary>
public enum L7Direction : byte
{
    Unknown = 0,
    /// <summary>Source is the client.</summary>
    Request = 1,
    /// <summary>Source is the server (Cilium's proxy writes responses server -> client).</summary>
    Response = 2,
}

/// <summary>
/// One L7 fact: an HTTP/gRPC request or response, a DNS query or answer, a Kafka request or response, or the names
/// Hubble attached to an L3/L4 flow. Kept beside <see cref="FlowRecord"/> rather than inside it: most records have no
/// L7 part, and the hot L3/L4 struct stays the size it is. The generic fields hold, per protocol:
/// <list type="table">
/// <item><term>HTTP/gRPC</term><description><see cref="Operation"/> method, <see cref="Resource"/> URL path (no query),
/// <see cref="Status"/> response code, <see cref="Version"/> "HTTP/1.1", "HTTP/2"</description></item>
/// <item><term>DNS</term><description>operation the query types ("A,AAAA"), resource the query name (no trailing dot),
/// status the rcode, <see cref="Addresses"/> and <see cref="Ttl"/> of the answer</description></item>
/// <item><term>Kafka</term><description>operation the api key ("produce", "fetch"), resource the topic, status the
/// error code</description></item>
/// <item><term>Names</term><description><see cref="Names"/>: the names of <see cref="NamedAddress"/></description></item>
/// </list>
/// Identities and addresses are those of the record (client and server as written: a response's source is the
/// server). <see cref="HasIp"/> is false when the proxy wrote no addresses: then only the identities join it to an edge.
/// </summary>
public struct L7Observation
{
    public DateTime Time;
    public L7Protocol Protocol;
    public L7Direction Direction;
    public Verdict Verdict;
    public bool HasIp;
    /// <summary>True when the same input record also produced a <see cref="FlowRecord"/> (this is an addition to it).</summary>
    public bool CarriesFlow;
    /// <summary>IANA transport protocol (0: the record had no l4).</summary>
    public byte Transport;
    public PackedIp SrcIp;
    public PackedIp DstIp;
    public ushort SrcPort;
    public ushort DstPort;
    public WorkloadIdentity? SrcIdentity;
    public WorkloadIdentity? DstIdentity;

    public string? Operation;
    public string? Resource;
    public string? Version;
    /// <summary>HTTP code, DNS rcode or Kafka error code; -1 when the record carries none (requests).</summary>
    public int Status;
    /// <summary>DNS answer addresses.</summary>
    public PackedIp[]? Addresses;
    /// <summary>DNS answer TTL in seconds.</summary>
    public uint Ttl;
    /// <summary>Names of <see cref="NamedAddress"/> (<see cref="L7Protocol.Names"/>).</summary>
    public string[]? Names;
    /// <summary>The external address <see cref="Names"/> are names of.</summary>
    public PackedIp NamedAddress;
    /// <summary>True when the named address is the record's source (<c>source_names</c>), false for the destination.</summary>
    public bool NamedIsSource;

    /// <summary>As a flow record (times, addresses, ports, identities, direction), for enrichment and orientation.</summary>
    public readonly FlowRecord AsFlow() => new()
    {
        Start = Time,
        End = Time,
        SrcIp = SrcIp,
        DstIp = DstIp,
        SrcPort = SrcPort,
        DstPort = DstPort,
        Protocol = Transport,
        SrcIdentity = SrcIdentity,
        DstIdentity = DstIdentity,
        Verdict = Verdict,
        Direction = Direction switch
        {
            L7Direction.Request => DirectionHint.Request,
            L7Direction.Response => DirectionHint.Reply,
            _ => DirectionHint.Unknown,
        },
    };
}

using FlowPolicy.Core.Net;

namespace FlowPolicy.Core.Flows;

/// <summary>What the network (or its policy engine) did with a flow.</summary>
public enum Verdict : byte
{
    Unknown = 0,
    Allowed = 1,
    Denied = 2,
}

/// <summary>What the source says about which side opened the connection.</summary>
public enum DirectionHint : byte
{
    Unknown = 0,
    /// <summary>Source is the client: src -> dst:port is the request direction.</summary>
    Request = 1,
    /// <summary>Source is the server answering: the record must be flipped before it becomes an edge.</summary>
    Reply = 2,
}

/// <summary>
/// The canonical flow record every reader produces. A struct so readers can hand records to a sink
/// without allocating; identities are optional references, present only when the source carries them
/// (Hubble) or after enrichment.
/// </summary>
public struct FlowRecord
{
    /// <summary>Start of the flow (or of the aggregation interval that reported it), UTC.</summary>
    public DateTime Start;
    /// <summary>End of the flow (or interval), UTC. Equal to <see cref="Start"/> when the source has one timestamp.</summary>
    public DateTime End;
    public PackedIp SrcIp;
    public PackedIp DstIp;
    public ushort SrcPort;
    public ushort DstPort;
    /// <summary>IANA protocol number (6 TCP, 17 UDP, 1 ICMP ...).</summary>
    public byte Protocol;
    public Verdict Verdict;
    public DirectionHint Direction;
    /// <summary>True when <see cref="TcpFlags"/> was reported (0 is a valid value).</summary>
    public bool HasTcpFlags;
    /// <summary>Cumulative TCP flags, as in the TCP header (FIN=1, SYN=2, RST=4, PSH=8, ACK=16, URG=32).</summary>
    public ushort TcpFlags;
    public ulong Bytes;
    public ulong Packets;
    /// <summary>Who reported the flow: exporter, node, ENI, NSG or VM; free text, may be null.</summary>
    public string? Reporter;
    /// <summary>The policy that allowed or denied the flow, when the source says (Hubble, Azure rule names).</summary>
    public string? PolicyName;
    /// <summary>Source side identity carried by the record or added by enrichment.</summary>
    public WorkloadIdentity? SrcIdentity;
    /// <summary>Destination side identity carried by the record or added by enrichment.</summary>
    public WorkloadIdentity? DstIdentity;

    public const ushort TcpFin = 0x01;
    public const ushort TcpSyn = 0x02;
    public const ushort TcpRst = 0x04;
    public const ushort TcpAck = 0x10;

    /// <summary>Swaps the two sides in place: addresses, ports, identities; a reply becomes a request.</summary>
    public void Flip()
    {
        (SrcIp, DstIp) = (DstIp, SrcIp);
        (SrcPort, DstPort) = (DstPort, SrcPort);
        (SrcIdentity, DstIdentity) = (DstIdentity, SrcIdentity);
        Direction = Direction switch
        {
            DirectionHint.Reply => DirectionHint.Request,
            DirectionHint.Request => DirectionHint.Reply,
            _ => DirectionHint.Unknown,
        };
    }
}

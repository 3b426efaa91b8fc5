namespace FlowPolicy.Ingest.Direction;

/// <summary>Which rule decided a record's direction, strongest first.</summary>
internal enum DirectionSignal : byte
{
    /// <summary>Nothing decided (equal ports, portless protocol such as ICMP): the record is kept as it came.</summary>
    Default = 0,
    /// <summary>The source said which side it is (Hubble is_reply, a reader's request/reply hint).</summary>
    ReplyFlag = 1,
    /// <summary>TCP flags on the record: SYN without ACK is the client; SYN-ACK is the server.</summary>
    TcpFlags = 2,
    /// <summary>The inventory says one side serves its port (container port, Service port, lease ports).</summary>
    DeclaredPort = 3,
    /// <summary>Learned from other records: handshakes seen on the endpoint, or many distinct peer ports (fan-in).</summary>
    LearnedListener = 4,
    /// <summary>One side is a well-known (&lt; 1024) or common service port, the other is not.</summary>
    WellKnownPort = 5,
    /// <summary>One side is in the ephemeral range (32768-65535), the other is not.</summary>
    EphemeralPort = 6,
    /// <summary>Last resort between two ports of the same class: the lower port is the server.</summary>
    LowerPort = 7,
}

/// <summary>What <see cref="DirectionResolver.Resolve"/> decided for one record.</summary>
/// <param name="Flipped">The record was flipped in place so that it now reads client -> server:port.</param>
/// <param name="IsReply">The record was sent by the server side: its bytes and packets belong to the connection,
/// but it must not count as a new flow (connection) of the edge.</param>
/// <param name="Signal">The rule that decided.</param>
internal readonly record struct ResolvedDirection(bool Flipped, bool IsReply, DirectionSignal Signal);

/// <summary>How a source reports TCP flags; it decides whether SYN+ACK on a record proves the sender is the server.</summary>
internal enum TcpFlagsDialect : byte
{
    /// <summary>
    /// Start as <see cref="SynAckReported"/> and switch to <see cref="Cumulative"/> for good on the first record
    /// AWS could not have written (ACK without SYN, or PSH/URG/ECE/CWR).
    /// </summary>
    Auto = 0,
    /// <summary>
    /// AWS VPC Flow Logs: only FIN (1), SYN (2), RST (4) and SYN-ACK (18) are recorded and ORed over the interval,
    /// so ACK appears only as part of SYN-ACK: 2/3/6 are client records, 18/19/22 server records.
    /// </summary>
    SynAckReported = 1,
    /// <summary>NetFlow/IPFIX style: the flags of every packet ORed; both sides show SYN|ACK, only SYN without ACK decides.</summary>
    Cumulative = 2,
}

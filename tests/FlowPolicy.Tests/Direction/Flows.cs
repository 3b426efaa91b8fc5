using FlowPolicy.Core.Flows;
using FlowPolicy.Core.Net;

namespace FlowPolicy.Tests.Direction;

internal static class Flows
{
    public static readonly DateTime Nov1 = new(2026, 11, 1, 0, 0, 0, DateTimeKind.Utc);

    public static FlowRecord Tcp(string src, ushort srcPort, string dst, ushort dstPort, ushort? flags = null,
        DirectionHint hint = DirectionHint.Unknown) =>
        Make(PackedIp.Parse(src), srcPort, PackedIp.Parse(dst), dstPort, IpProtocols.Tcp, flags, hint);

    public static FlowRecord Make(PackedIp src, ushort srcPort, PackedIp dst, ushort dstPort, byte protocol,
        ushort? flags = null, DirectionHint hint = DirectionHint.Unknown) => new()
    {
        Start = Nov1,
        End = Nov1.AddMinutes(1),
        SrcIp = src,
        DstIp = dst,
        SrcPort = srcPort,
        DstPort = dstPort,
        Protocol = protocol,
        HasTcpFlags = flags.HasValue,
        TcpFlags = flags ?? 0,
        Direction = hint,
        Bytes = 100,
        Packets = 1,
    };
}

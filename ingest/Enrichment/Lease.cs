using FlowPolicy.Core.Flows;
using FlowPolicy.Core.Net;

namespace FlowPolicy.Ingest.Enrichment;

/// <summary>A port an endpoint serves (a container port, a Service port, a lease's "ports").</summary>
internal readonly record struct ServedPort(ushort Port, byte Protocol, string? Name);

/// <summary>
/// One address (or network) owned by one identity for a time range [From, To). Leases come from the inventory
/// files; the index turns them into non-overlapping segments per address.
/// </summary>
internal sealed class Lease
{
    public Lease(IpPrefix prefix, DateTime from, DateTime to, WorkloadIdentity identity,
        ServedPort[] ports, string origin)
    {
        Prefix = prefix;
        From = from;
        To = to;
        Identity = identity;
        Ports = ports;
        Origin = origin;
    }

    /// <summary>The address (a /32 or /128) or the CIDR the lease covers.</summary>
    public IpPrefix Prefix { get; }
    /// <summary>The address, or the network address (host bits zero) of a CIDR.</summary>
    public PackedIp Network => Prefix.Network;
    /// <summary>Prefix length in the 128-bit space (IPv4 /24 is 120); 128 for a single address.</summary>
    public int PrefixLength => Prefix.PrefixLength;
    public DateTime From { get; }
    /// <summary>Exclusive end; <see cref="DateTime.MaxValue"/> while still valid.</summary>
    public DateTime To { get; }
    public WorkloadIdentity Identity { get; }
    public ServedPort[] Ports { get; }
    /// <summary>"file:line" or "file: items[i]", to explain where an identity came from.</summary>
    public string Origin { get; }

    public bool IsHost => PrefixLength == 128;

    public bool Serves(ushort port, byte protocol)
    {
        foreach (var served in Ports)
            if (served.Port == port && served.Protocol == protocol) return true;
        return false;
    }

    public override string ToString() => $"{Prefix} {Identity} [{From:O}, {(To == DateTime.MaxValue ? "open" : To.ToString("O"))}) from {Origin}";
}

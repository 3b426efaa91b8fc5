using FlowPolicy.Core.Net;

namespace FlowPolicy.Ingest.Direction;

/// <summary>
/// Answers "does the endpoint at this address serve this port at this time": declared ports from the
/// inventory (container ports, Service ports, lease "ports"). <see cref="Enrichment.LeaseIndex"/> and
/// <see cref="Enrichment.InventoryWatcher"/> implement it.
/// </summary>
internal interface IServedPorts
{
    bool Serves(PackedIp ip, ushort port, byte protocol, DateTime at);
}

/// <summary>An <see cref="IServedPorts"/> over a delegate, for tests and for sources other than the inventory.</summary>
internal sealed class DelegateServedPorts(Func<PackedIp, ushort, byte, DateTime, bool> serves) : IServedPorts
{
    public static IServedPorts None { get; } = new DelegateServedPorts(static (_, _, _, _) => false);

    public bool Serves(PackedIp ip, ushort port, byte protocol, DateTime at) => serves(ip, port, protocol, at);
}

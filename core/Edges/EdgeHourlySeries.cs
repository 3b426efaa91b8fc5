namespace FlowPolicy.Core.Edges;

/// <summary>
/// One edge's traffic hour by hour over a window: the grain anomaly detection works on (both edge sources give it: the
/// in-memory aggregate when asked to keep hours, the hourly rollup in ClickHouse). Sparse: only hours with traffic are
/// held, as hour indexes from the window's start in ascending order.
/// </summary>
public sealed class EdgeHourlySeries
{
    public EdgeHourlySeries(Endpoint client, Endpoint server, ushort port, byte protocol, int[] hours, long[] flows, ulong[] bytes, long[] deniedFlows)
    {
        if (flows.Length != hours.Length || bytes.Length != hours.Length || deniedFlows.Length != hours.Length)
            throw new ArgumentException("every counter needs one value per hour");
        Client = client;
        Server = server;
        Port = port;
        Protocol = protocol;
        Hours = hours;
        Flows = flows;
        Bytes = bytes;
        DeniedFlows = deniedFlows;
    }

    public Endpoint Client { get; }
    public Endpoint Server { get; }
    public ushort Port { get; }
    public byte Protocol { get; }
    /// <summary>Hour indexes from the window's start (0 = the first hour), ascending, each once.</summary>
    public int[] Hours { get; }
    /// <summary>Request flows per hour in <see cref="Hours"/> (replies are bytes, not flows, as in <see cref="Edge"/>).</summary>
    public long[] Flows { get; }
    public ulong[] Bytes { get; }
    public long[] DeniedFlows { get; }
}

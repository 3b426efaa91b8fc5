using System.Globalization;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using FlowPolicy.Core.Edges;
using FlowPolicy.Core.Flows;

namespace FlowPolicy.Analytics.Baseline;

/// <summary>
/// Finds scanners by behaviour, whether their probes are answered or not and whoever owns the pod: a client that makes
/// first contact (at most <see cref="BaselineOptions.ScannerMaxFlowsPerPeer"/> flows) with many ports of one server, or
/// with many servers, exchanging almost nothing (tiny flows). Real fan-out differs on each of those: a Prometheus
/// scrapes its 200 targets every few seconds with kilobytes each (many flows per peer, large flows), a mesh sidecar or
/// a DNS client keeps talking to the same few peers, and none of them tries eight ports of one server.
/// </summary>
internal sealed class ScanDetector(BaselineOptions options)
{
    /// <summary>Tiny per flow: few bytes and packets (sizes known), or the log saw most flows denied.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool IsTiny(Edge e) =>
        e.DeniedFlows * 2 >= e.Flows
        || (e.Bytes > 0 && e.Bytes <= options.ScannerMaxBytesPerFlow * e.Flows && (e.Packets == 0 || e.Packets <= options.ScannerMaxPacketsPerFlow * e.Flows));

    /// <summary>
    /// A first contact that exchanged almost nothing. Records without byte counts (Hubble's are events) count when the
    /// contact is brief: their sizes cannot tell, the fan-out and the burst still do.
    /// A sized tiny edge whose flows all fall within <see cref="BaselineOptions.ScannerMaxProbeSpan"/> is one contact too,
    /// however many flows: the probes of every replica of a workload, or one probe reported by two observers; so is a
    /// sizeless one (Hubble) whose flows all fall in that span.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool IsContact(Edge e) => e.Flows >= 1
        && (e.Flows <= options.ScannerMaxFlowsPerPeer
            ? e.Bytes == 0 || IsTiny(e)
            // Sizeless records (Hubble's are events) cannot show tininess: all within one burst is the evidence left
            // (one probe reported by two observers, with its reply events).
            : e.LastSeen - e.FirstSeen <= options.ScannerMaxProbeSpan && (e.Bytes == 0 || IsTiny(e)));

    /// <summary>
    /// Unanswered (one packet per flow: no reply came back, whether the source counts bytes or, like Hubble, one event
    /// per packet with no size) or denied.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool Failed(Edge e) => e.DeniedFlows * 2 >= e.Flows || (e.Packets > 0 && e.Packets <= (ulong)e.Flows);

    /// <summary>An edge of a convicted scanner that is part of the scan (its other edges are judged on their own).</summary>
    public bool IsScanTraffic(Edge e) => e.Flows > 0 && (IsContact(e) || (e.Bytes > 0 && IsTiny(e)));

    /// <summary>Convicted clients (by key) with the numbers that convicted them.</summary>
    public Dictionary<string, string> Scanners(IReadOnlyList<Edge> edges)
    {
        var contacts = new Dictionary<string, List<Edge>>(StringComparer.Ordinal);
        List<Edge>? last = null;
        string? lastKey = null;
        foreach (var e in edges)
        {
            if (e.Client.Kind == EndpointKind.Node || !IsContact(e)) continue;
            // Edges usually come sorted by client: skip the lookup while the client stays the same.
            if (!ReferenceEquals(lastKey, e.Client.Key))
            {
                ref var slot = ref CollectionsMarshal.GetValueRefOrAddDefault(contacts, e.Client.Key, out _);
                last = slot ??= [];
                lastKey = e.Client.Key;
            }
            last!.Add(e);
        }
        var scanners = new Dictionary<string, string>(StringComparer.Ordinal);
        int fewest = Math.Min(Math.Min(options.ScannerMinPorts, options.ScannerMinServers), options.ScannerMinFailedPorts);
        foreach (var (client, list) in contacts)
        {
            if (list.Count < fewest) continue;
            if (Judge(list) is { } detail) scanners[client] = detail;
        }
        return scanners;
    }

    private string? Judge(List<Edge> contacts)
    {
        // Vertical: many ports of one server.
        var portsByServer = new Dictionary<string, HashSet<(ushort, byte)>>(StringComparer.Ordinal);
        var failedServers = new HashSet<string>(StringComparer.Ordinal);
        var allServers = new HashSet<string>(StringComparer.Ordinal);
        var allPorts = new HashSet<(ushort, byte)>();
        int maxPorts = 0, failed = 0;
        double bytes = 0;
        long flows = 0;
        foreach (var e in contacts)
        {
            ref var ports = ref CollectionsMarshal.GetValueRefOrAddDefault(portsByServer, e.Server.Key, out _);
            ports ??= [];
            ports.Add((e.Port, e.Protocol));
            maxPorts = Math.Max(maxPorts, ports.Count);
            allServers.Add(e.Server.Key);
            allPorts.Add((e.Port, e.Protocol));
            if (Failed(e))
            {
                failedServers.Add(e.Server.Key);
                failed++;
            }
            bytes += e.Bytes;
            flows += e.Flows;
        }
        // Horizontal: many servers, either probes that failed (a slow sweep shows that way) or answered ones in a burst.
        int burstServers = allServers.Count >= options.ScannerMinServers ? MostServersInBurst(contacts) : 0;
        bool vertical = maxPorts >= options.ScannerMinPorts;
        bool horizontal = failedServers.Count >= options.ScannerMinServers || burstServers >= options.ScannerMinServers;
        // Unanswered: several ports and not one answer (a SYN sweep below the other thresholds).
        bool unanswered = failed == contacts.Count && allPorts.Count >= options.ScannerMinFailedPorts;
        if (!vertical && !horizontal && !unanswered) return null;
        var first = contacts.Min(e => e.FirstSeen);
        var lastSeen = contacts.Max(e => e.LastSeen);
        string size = bytes > 0 ? string.Create(CultureInfo.InvariantCulture, $"{bytes / flows:0} bytes per flow") : "sizes unknown";
        return string.Create(CultureInfo.InvariantCulture,
            $"scanner: first contact with {allPorts.Count} ports on {allServers.Count} servers (up to {maxPorts} ports of one server, {Math.Max(burstServers, failedServers.Count)} servers in a sweep), each peer reached in at most {options.ScannerMaxFlowsPerPeer} flows or one burst, {size}, over {Span(lastSeen - first)}; {failed} of {contacts.Count} probes denied or unanswered");
    }

    /// <summary>Most distinct servers whose first contact falls within one <see cref="BaselineOptions.ScannerBurst"/>.</summary>
    private int MostServersInBurst(List<Edge> contacts)
    {
        var byTime = contacts.ToArray();
        Array.Sort(byTime, static (a, b) => a.FirstSeen.CompareTo(b.FirstSeen));
        var inWindow = new Dictionary<string, int>(StringComparer.Ordinal);
        int most = 0;
        for (int from = 0, to = 0; to < byTime.Length; to++)
        {
            CollectionsMarshal.GetValueRefOrAddDefault(inWindow, byTime[to].Server.Key, out _)++;
            while (byTime[to].FirstSeen - byTime[from].FirstSeen > options.ScannerBurst)
            {
                ref int count = ref CollectionsMarshal.GetValueRefOrNullRef(inWindow, byTime[from].Server.Key);
                if (--count == 0) inWindow.Remove(byTime[from].Server.Key);
                from++;
            }
            most = Math.Max(most, inWindow.Count);
        }
        return most;
    }

    private static string Span(TimeSpan span) => span.TotalHours >= 1
        ? string.Create(CultureInfo.InvariantCulture, $"{span.TotalHours:0.#} h")
        : string.Create(CultureInfo.InvariantCulture, $"{Math.Max(1, Math.Round(span.TotalMinutes))} min");
}

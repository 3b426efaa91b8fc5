using FlowPolicy.Core.Flows;
using FlowPolicy.Core.Net;
using FlowPolicy.Ingest.Direction.Internal;

namespace FlowPolicy.Ingest.Direction;

/// <summary>
/// Decides which side of a flow record is the server, so later stages only see client -> server:port. Flow logs
/// carry both directions of a connection (VPC, Azure, GCP log replies as records of their own; Hubble marks
/// is_reply); a reply record is flipped and marked <see cref="ResolvedDirection.IsReply"/>.
/// </summary>
/// <remarks>
/// Rules, strongest first (docs/enrichment.md): the source's request/reply hint; TCP flags; ports declared in
/// the inventory; listeners learned from other records (handshakes, fan-in); well-known service ports;
/// ephemeral ports; the lower port; else the record is kept. Portless protocols (ICMP ...) are kept.
/// Two ways to use it: online (a worker calls <see cref="Observe"/> on a batch, then <see cref="Resolve"/>), or
/// in two passes (observe everything first, then resolve). Learned state is bounded by
/// <see cref="DirectionResolverOptions.MaxTrackedEndpoints"/>. Not thread-safe: one instance per worker.
/// </remarks>
internal sealed class DirectionResolver
{
    private const ushort AwsTcpFlags = FlowRecord.TcpFin | FlowRecord.TcpSyn | FlowRecord.TcpRst | FlowRecord.TcpAck;

    private readonly DirectionResolverOptions _options;
    private readonly IServedPorts? _servedPorts;
    private readonly ListenerTable _listeners;
    private bool _cumulativeFlags;

    public DirectionResolver(DirectionResolverOptions? options = null, IServedPorts? servedPorts = null)
    {
        _options = options ?? new DirectionResolverOptions();
        _options.Validate();
        _servedPorts = servedPorts;
        _listeners = new ListenerTable(_options.MaxTrackedEndpoints);
        _cumulativeFlags = _options.TcpFlags == TcpFlagsDialect.Cumulative;
    }

    public DirectionMetrics Metrics { get; } = new();

    /// <summary>True once the flags seen prove the source ORs every packet's flags (see <see cref="TcpFlagsDialect.Auto"/>).</summary>
    public bool FlagsAreCumulative => _cumulativeFlags;

    /// <summary>Learns from one record: handshake flags, request/reply hints, and the peer ports of both endpoints.</summary>
    public void Observe(in FlowRecord flow)
    {
        Metrics.ObservedField++;
        if (!HasPorts(flow)) return;
        NoteFlagDialect(flow);
        var srcKey = new EndpointKey(flow.SrcIp, flow.SrcPort, flow.Protocol);
        var dstKey = new EndpointKey(flow.DstIp, flow.DstPort, flow.Protocol);

        var evidence = Evidence.None;
        if (flow.Direction == DirectionHint.Request) evidence = Evidence.SrcIsClient;
        else if (flow.Direction == DirectionHint.Reply) evidence = Evidence.SrcIsServer;
        else if (flow.Protocol == IpProtocols.Tcp && flow.HasTcpFlags)
        {
            ushort flags = flow.TcpFlags;
            if ((flags & FlowRecord.TcpSyn) != 0 && (flags & FlowRecord.TcpAck) == 0) evidence = Evidence.SrcIsClient;
            else if ((flags & FlowRecord.TcpSyn) != 0 && (flags & ~AwsTcpFlags) == 0) evidence = Evidence.SynAckFromSrc;
        }

        // Each ref is used before the next GetOrAdd, which may move entries.
        ref var src = ref _listeners.GetOrAdd(srcKey);
        src.AddPeerPort(flow.DstPort);
        if (evidence == Evidence.SrcIsClient) src.ClientVotes = Inc(src.ClientVotes);
        else if (evidence == Evidence.SrcIsServer) src.ListenerVotes = Inc(src.ListenerVotes);
        else if (evidence == Evidence.SynAckFromSrc) src.SynAckVotes = Inc(src.SynAckVotes);

        ref var dst = ref _listeners.GetOrAdd(dstKey);
        dst.AddPeerPort(flow.SrcPort);
        if (evidence == Evidence.SrcIsClient) dst.ListenerVotes = Inc(dst.ListenerVotes);
        else if (evidence == Evidence.SrcIsServer) dst.ClientVotes = Inc(dst.ClientVotes);

        Metrics.TrackedEndpoints = _listeners.Count;
        Metrics.EvictedEndpoints = _listeners.Evicted;
    }

    public void Observe(ReadOnlySpan<FlowRecord> flows)
    {
        foreach (ref readonly var flow in flows) Observe(in flow);
    }

    /// <summary>Orients one record client -> server in place and says how it was decided.</summary>
    public ResolvedDirection Resolve(ref FlowRecord flow)
    {
        var (srcIsServer, signal) = Decide(flow, learn: true);
        if (srcIsServer)
        {
            flow.Flip();
            Metrics.FlippedField++;
        }
        Metrics.Count(signal);
        // The side that sent a record is the server exactly when the record had to be flipped.
        return new ResolvedDirection(srcIsServer, srcIsServer, signal);
    }

    /// <summary>
    /// Orients one record from what was learned, learning and counting nothing: safe on several threads at once while
    /// nothing calls <see cref="Observe"/> (the second pass of the two-pass mode, once every record was observed; the
    /// flag dialect it would note was then noted already, as observing saw every record this one could be).
    /// </summary>
    public ResolvedDirection ResolveLearned(ref FlowRecord flow)
    {
        var (srcIsServer, signal) = Decide(flow, learn: false);
        if (srcIsServer) flow.Flip();
        return new ResolvedDirection(srcIsServer, srcIsServer, signal);
    }

    /// <summary>Resolves a batch; <paramref name="results"/> must be at least as long as <paramref name="flows"/>.</summary>
    public void Resolve(Span<FlowRecord> flows, Span<ResolvedDirection> results)
    {
        if (results.Length < flows.Length) throw new ArgumentException("One result per flow is needed.", nameof(results));
        for (int i = 0; i < flows.Length; i++) results[i] = Resolve(ref flows[i]);
    }

    /// <summary>
    /// Whether orienting <paramref name="flow"/> can depend on what <see cref="Observe"/> learned: not when its source
    /// said request or reply, nor when it has no ports (what <see cref="Decide"/> settles first). A two-pass user whose
    /// records all answer false need not observe at all.
    /// </summary>
    public static bool ConsultsLearned(in FlowRecord flow) =>
        flow.Direction is not (DirectionHint.Request or DirectionHint.Reply) && HasPorts(flow);

    private (bool SrcIsServer, DirectionSignal Signal) Decide(in FlowRecord flow, bool learn)
    {
        // The first three rules are ConsultsLearned's: keep them together.
        if (flow.Direction == DirectionHint.Request) return (false, DirectionSignal.ReplyFlag);
        if (flow.Direction == DirectionHint.Reply) return (true, DirectionSignal.ReplyFlag);
        if (!HasPorts(flow)) return (false, DirectionSignal.Default);
        if (learn) NoteFlagDialect(flow);

        if (flow.Protocol == IpProtocols.Tcp && flow.HasTcpFlags)
        {
            ushort flags = flow.TcpFlags;
            if ((flags & FlowRecord.TcpSyn) != 0)
            {
                if ((flags & FlowRecord.TcpAck) == 0) return (false, DirectionSignal.TcpFlags);
                if (!_cumulativeFlags && (flags & ~AwsTcpFlags) == 0) return (true, DirectionSignal.TcpFlags);
            }
        }

        if (_servedPorts is not null)
        {
            if (_servedPorts.Serves(flow.DstIp, flow.DstPort, flow.Protocol, flow.Start)) return (false, DirectionSignal.DeclaredPort);
            if (_servedPorts.Serves(flow.SrcIp, flow.SrcPort, flow.Protocol, flow.Start)) return (true, DirectionSignal.DeclaredPort);
        }

        _listeners.TryGet(new EndpointKey(flow.SrcIp, flow.SrcPort, flow.Protocol), out var src);
        _listeners.TryGet(new EndpointKey(flow.DstIp, flow.DstPort, flow.Protocol), out var dst);
        bool trustSynAck = !_cumulativeFlags;
        int dstIsServer = dst.ListenerVotes + src.ClientVotes + (trustSynAck ? dst.SynAckVotes : 0);
        int srcIsServer = src.ListenerVotes + dst.ClientVotes + (trustSynAck ? src.SynAckVotes : 0);
        if (dstIsServer != srcIsServer) return (srcIsServer > dstIsServer, DirectionSignal.LearnedListener);
        // Fan-in: a listener meets many client ports; a client's ephemeral port meets one server port, or a few when the
        // client reuses it over the days (to 3306 on Monday, to 443 on Friday). So only peer ports that are not
        // well-known service ports count: those are what clients connect from.
        int dstFanIn = dst.ClientLikePeerPorts(), srcFanIn = src.ClientLikePeerPorts();
        if (dstFanIn >= _options.MinFanIn && dstFanIn > srcFanIn) return (false, DirectionSignal.LearnedListener);
        if (srcFanIn >= _options.MinFanIn && srcFanIn > dstFanIn) return (true, DirectionSignal.LearnedListener);

        int srcClass = ServicePorts.Class(flow.SrcPort), dstClass = ServicePorts.Class(flow.DstPort);
        if (srcClass != dstClass && (srcClass == ServicePorts.Service || dstClass == ServicePorts.Service))
            return (srcClass == ServicePorts.Service, DirectionSignal.WellKnownPort);
        if (srcClass != dstClass) // one registered, one ephemeral
            return (dstClass == ServicePorts.Ephemeral, DirectionSignal.EphemeralPort);
        if (flow.SrcPort != flow.DstPort) return (flow.SrcPort < flow.DstPort, DirectionSignal.LowerPort);
        return (false, DirectionSignal.Default);
    }

    private static bool HasPorts(in FlowRecord flow) =>
        IpProtocols.HasPorts(flow.Protocol) && flow.SrcPort != 0 && flow.DstPort != 0;

    /// <summary>AWS never reports ACK without SYN, nor PSH/URG/ECE/CWR: seeing either proves cumulative flags.</summary>
    private void NoteFlagDialect(in FlowRecord flow)
    {
        if (_cumulativeFlags || _options.TcpFlags != TcpFlagsDialect.Auto || !flow.HasTcpFlags || flow.Protocol != IpProtocols.Tcp)
            return;
        ushort flags = flow.TcpFlags;
        if ((flags & ~AwsTcpFlags) != 0 || ((flags & FlowRecord.TcpAck) != 0 && (flags & FlowRecord.TcpSyn) == 0))
            _cumulativeFlags = true;
    }

    private static ushort Inc(ushort value) => value == ushort.MaxValue ? value : (ushort)(value + 1);

    private enum Evidence : byte
    {
        None,
        SrcIsClient,
        SrcIsServer,
        SynAckFromSrc,
    }
}

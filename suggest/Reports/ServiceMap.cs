using FlowPolicy.Analytics.Baseline;
using System.Globalization;
using System.Text;
using System.Text.Json;
using FlowPolicy.Analytics.Slis;
using FlowPolicy.Core.Edges;
using FlowPolicy.Core.Flows;
using FlowPolicy.Suggest.Inference;

namespace FlowPolicy.Suggest.Reports;

/// <summary>What one map edge is, as its colour and the status filter show it. An edge can be several at once.</summary>
[Flags]
internal enum MapEdgeStatus
{
    None = 0,
    /// <summary>The intended policy allows it.</summary>
    Allowed = 1,
    /// <summary>Observed, and the intended policy does not allow it.</summary>
    Unintended = 2,
    /// <summary>The log shows denied flows on it.</summary>
    Denied = 4,
    /// <summary>Not in the previous report.</summary>
    New = 8,
    /// <summary>A suggested rule that the intended policy lacks would allow it.</summary>
    ToAdd = 16,
    /// <summary>The suggestion leaves it out as noise: the candidate policy would block it (suggested to remove).</summary>
    ToRemove = 32,
}

/// <summary>
/// The interactive service map of report.html: the map's data as a JSON blob plus Cytoscape.js (with its dagre
/// layered layout) and the map's own script and style, all inlined so the report opens with no network. The libraries
/// come from npm at build time (suggest/Reports/Map/package-lock.json) and are embedded resources of this assembly.
/// Namespaces are compound groups, workloads nodes, edges coloured by <see cref="MapEdgeStatus"/> and sized by flows.
/// </summary>
internal static class ServiceMap
{
    /// <summary>Left-out reasons not drawn (they would bury the dependencies in red; the report lists them as noise).</summary>
    public static bool IsHiddenNoise(LeaveOutReason reason) => reason is LeaveOutReason.Scanner or LeaveOutReason.BarePod;

    private const ushort DnsPort = 53;
    private const ushort ApiServerPort = 6443;

    /// <summary>
    /// The busiest edges drawn; the rest are counted under the map. 10,000 keeps the page usable (layout in seconds,
    /// a few MB); a million-edge suggestion would otherwise write a page no browser opens. The tables list all.
    /// </summary>
    public const int MaxEdges = 10_000;

    /// <summary>
    /// Node probes, DNS, the API server and other plumbing: edges to or from a cluster node (kubelet probes, host agents;
    /// Hubble names the API server a node too), DNS, and the API server as a Service or on its port. They exist in every
    /// cluster, cross the whole picture, and say nothing about the application, so the map hides them until asked.
    /// </summary>
    public static bool IsPlumbing(Edge e) =>
        e.Client.Kind == EndpointKind.Node || e.Server.Kind == EndpointKind.Node || e.Port is DnsPort or ApiServerPort
        || e.Server.Key == "service:default/kubernetes";

    /// <summary>The group a node is drawn in: its namespace, or a group per kind for what has none.</summary>
    private static string Group(Endpoint e) => e.Namespace ?? e.Kind switch
    {
        EndpointKind.Node => "(nodes)",
        EndpointKind.Unknown => "(unknown addresses)",
        _ => "(outside the cluster)",
    };

    /// <summary>The map's data blob and the counts the report explains it with.</summary>
    internal sealed record Model(string Json, int DrawnEdges, int Nodes, int MergedAway, int NoiseHidden, int NotDrawn, int Plumbing);

    /// <summary>The map section's body: container, controls, data blob and scripts. Empty when nothing is drawn.</summary>
    public static string Html(Model model)
    {
        if (model.DrawnEdges == 0) return "";
        var sb = new StringBuilder();
        sb.Append("<style>").Append(Resource("service-map.css")).Append("</style>\n");
        sb.Append("""
            <div id="service-map" class="smap" data-map-ready="0">
            <div class="smap-controls">
            <input id="smap-search" type="search" placeholder="Search workloads" aria-label="Search workloads">
            <select id="smap-namespace" aria-label="Namespace"><option value="">All namespaces</option></select>
            <span id="smap-status" class="smap-status"></span>
            <label><input id="smap-plumbing" type="checkbox"> node probes, DNS, API server and other plumbing (<span id="smap-plumbing-count">0</span> edges)</label>
            <button id="smap-fit" type="button">Fit</button>
            </div>
            <div class="smap-body"><div id="smap-canvas" class="smap-canvas"></div><aside id="smap-evidence" class="smap-evidence"><p class="note">Click an edge for its evidence, a workload for its edges. Scroll to zoom, drag to pan.</p></aside></div>
            <p id="smap-summary" class="note"></p>
            </div>
            """).Append('\n');
        // The default encoder escapes '<', '>' and '&', so the blob cannot close its script element.
        sb.Append("<script type=\"application/json\" id=\"smap-data\">").Append(model.Json).Append("</script>\n");
        // Cytoscape.js and cytoscape-dagre are MIT-licensed; their licence texts travel with the code they cover.
        sb.Append("<script>/*! cytoscape.js 3.35.0\n").Append(Resource("cytoscape.LICENSE").Replace("*/", "* /", StringComparison.Ordinal)).Append("*/\n")
          .Append(Resource("cytoscape.min.js")).Append("</script>\n");
        sb.Append("<script>/*! cytoscape-dagre 4.0.1\n").Append(Resource("cytoscape-dagre.LICENSE").Replace("*/", "* /", StringComparison.Ordinal)).Append("*/\n")
          .Append(Resource("cytoscape-dagre.min.js")).Append("</script>\n");
        sb.Append("<script>").Append(Resource("service-map.js")).Append("</script>\n");
        return sb.ToString();
    }

    /// <summary>
    /// The map's data: groups, nodes, edges with evidence and status. Compact on purpose (nodes and rules by index,
    /// statuses as a bit set) so 10,000 edges stay a few megabytes.
    /// </summary>
    internal static Model Build(PipelineReportInput input, IReadOnlyDictionary<string, (SuggestedRule Rule, bool ToAdd)> suggestedBy,
        IReadOnlyDictionary<string, LeftOutEdge> leftOutBy)
    {
        var intent = input.Slis?.Edges.ToDictionary(a => PipelineReport.EdgeKey(a.Edge), a => a.Intent, StringComparer.Ordinal);
        var ruleIndex = new Dictionary<SuggestedRule, int>(ReferenceEqualityComparer.Instance);
        var ruleList = new List<(SuggestedRule Rule, bool ToAdd)>();

        // One node per identity; bare addresses (internet clients, unknown private IPs) are one node per kind, or a
        // public service's clients would be hundreds of nodes burying the workloads. Their edges merge per port.
        var nodes = new Dictionary<string, int>(StringComparer.Ordinal);
        var nodeList = new List<(string Key, string Group, string Name, EndpointKind Kind)>();
        int Node(Endpoint e)
        {
            var key = NodeKey(e);
            if (!nodes.TryGetValue(key, out int i))
            {
                i = nodes.Count;
                nodes.Add(key, i);
                nodeList.Add((key, Group(e), e.Namespace is null || e.IsAddress ? key : e.Name, e.Kind));
            }
            return i;
        }

        var merged = new Dictionary<(int Client, int Server, string Port), MapEdge>();
        int noiseHidden = 0, shown = 0;
        foreach (var e in input.Edges)
        {
            var key = PipelineReport.EdgeKey(e);
            var leftOut = leftOutBy.GetValueOrDefault(key);
            if (leftOut is not null && IsHiddenNoise(leftOut.Reason)) { noiseHidden++; continue; }
            shown++;
            var status = MapEdgeStatus.None;
            var decision = intent?.GetValueOrDefault(key);
            if (decision is not null) status |= decision.Allowed ? MapEdgeStatus.Allowed : MapEdgeStatus.Unintended;
            if (e.DeniedFlows > 0) status |= MapEdgeStatus.Denied;
            if (input.PreviousEdges is { } previous && !previous.Contains(key)) status |= MapEdgeStatus.New;
            int rule = -1;
            if (suggestedBy.TryGetValue(key, out var suggestion))
            {
                if (suggestion.ToAdd) status |= MapEdgeStatus.ToAdd;
                if (!ruleIndex.TryGetValue(suggestion.Rule, out rule))
                {
                    rule = ruleList.Count;
                    ruleIndex.Add(suggestion.Rule, rule);
                    ruleList.Add(suggestion);
                }
            }
            if (leftOut is not null && input.Suggestions is not null) status |= MapEdgeStatus.ToRemove;
            var why = decision is null ? null : decision.MatchedRules.Count > 0 ? string.Join("; ", decision.MatchedRules.Select(r => r.ToString())) : decision.Reason;
            var noise = leftOut is null ? null : leftOut.ReasonName + ": " + leftOut.Detail;
            var port = e.Port.ToString(CultureInfo.InvariantCulture) + "/" + e.ProtocolName;
            var id = (Node(e.Client), Node(e.Server), port);
            if (merged.TryGetValue(id, out var m)) m.Add(e, status, why, rule, noise);
            else merged.Add(id, new MapEdge(id.Item1, id.Item2, port, e, status, IsPlumbing(e), why, rule, noise));
        }
        var ordered = merged.Values.OrderByDescending(m => m.Flows)
            .ThenBy(m => $"{nodeList[m.Client].Key} -> {nodeList[m.Server].Key}:{m.Port}", StringComparer.Ordinal).Take(MaxEdges).ToList();

        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteBoolean("intent", intent is not null);
            w.WriteBoolean("previous", input.PreviousEdges is not null);
            w.WriteBoolean("suggestion", input.Suggestions is not null);
            w.WriteNumber("left_out", noiseHidden);
            w.WriteNumber("not_drawn", merged.Count - ordered.Count);
            w.WriteStartArray("edges");
            foreach (var m in ordered)
            {
                w.WriteStartObject();
                w.WriteNumber("s", m.Client);
                w.WriteNumber("t", m.Server);
                w.WriteString("p", m.Port);
                w.WriteNumber("f", m.Flows);
                w.WriteNumber("b", m.Bytes);
                w.WriteNumber("a", m.Allowed);
                w.WriteNumber("d", m.Denied);
                w.WriteNumber("u", m.Unknown);
                w.WriteString("fs", SliJson.Time(m.FirstSeen));
                w.WriteString("ls", SliJson.Time(m.LastSeen));
                w.WriteNumber("days", m.Days);
                w.WriteNumber("r", m.Replicas);
                w.WriteNumber("st", (int)m.Status);
                if (m.Merged > 1) w.WriteNumber("m", m.Merged);
                if (m.Plumbing) w.WriteBoolean("pl", true);
                if (m.Why is not null) w.WriteString("why", m.Why);
                if (m.Rule >= 0) w.WriteNumber("ri", m.Rule);
                if (m.Noise is not null) w.WriteString("lo", m.Noise);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteStartArray("nodes");
            foreach (var n in nodeList)
            {
                w.WriteStartObject();
                w.WriteString("id", n.Key);
                w.WriteString("g", n.Group);
                w.WriteString("n", n.Name);
                w.WriteString("k", n.Kind.ToString());
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteStartArray("rules");
            foreach (var (rule, add) in ruleList)
            {
                w.WriteStartObject();
                w.WriteString("id", rule.Id);
                w.WriteString("text", rule.ToString());
                w.WriteString("conf", rule.ConfidenceName);
                if (add) w.WriteBoolean("add", true);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        return new Model(Encoding.UTF8.GetString(buffer.ToArray()), ordered.Count, nodeList.Count, shown - merged.Count, noiseHidden,
            merged.Count - ordered.Count, ordered.Count(m => m.Plumbing));
    }

    /// <summary>The map node an endpoint is drawn as: its key, or one node for every bare address of its kind.</summary>
    internal static string NodeKey(Endpoint e) => !e.IsAddress ? e.Key : e.Kind == EndpointKind.Unknown ? "unknown private addresses" : "external addresses";

    /// <summary>One drawn edge: an observed edge, or the edges between the same map nodes on one port (bare addresses merged).</summary>
    private sealed class MapEdge(int client, int server, string port, Edge first, MapEdgeStatus status, bool plumbing, string? why, int rule, string? noise)
    {
        public int Client { get; } = client;
        public int Server { get; } = server;
        public string Port { get; } = port;
        public bool Plumbing { get; } = plumbing;
        public MapEdgeStatus Status { get; private set; } = status;
        public string? Why { get; private set; } = why;
        public int Rule { get; private set; } = rule;
        public string? Noise { get; private set; } = noise;
        public long Flows { get; private set; } = first.Flows;
        public ulong Bytes { get; private set; } = first.Bytes;
        public long Allowed { get; private set; } = first.AllowedFlows;
        public long Denied { get; private set; } = first.DeniedFlows;
        public long Unknown { get; private set; } = first.UnknownVerdictFlows;
        public DateTime FirstSeen { get; private set; } = first.FirstSeen;
        public DateTime LastSeen { get; private set; } = first.LastSeen;
        private readonly HashSet<DateOnly> _days = [.. first.Days];
        public int Days => _days.Count;
        public int Replicas { get; private set; } = first.ClientReplicas;
        public int Merged { get; private set; } = 1;

        public void Add(Edge e, MapEdgeStatus status, string? why, int rule, string? noise)
        {
            Status |= status;
            if (why is not null && Why is not null && !Why.Contains(why, StringComparison.Ordinal) && Why.Length < 500) Why += "; " + why;
            Why ??= why;
            if (Rule < 0) Rule = rule;
            Noise ??= noise;
            Flows += e.Flows;
            Bytes += e.Bytes;
            Allowed += e.AllowedFlows;
            Denied += e.DeniedFlows;
            Unknown += e.UnknownVerdictFlows;
            if (e.FirstSeen < FirstSeen) FirstSeen = e.FirstSeen;
            if (e.LastSeen > LastSeen) LastSeen = e.LastSeen;
            _days.UnionWith(e.Days);
            Replicas = Math.Max(Replicas, e.ClientReplicas);
            Merged++;
        }
    }

    private static string Resource(string name)
    {
        using var stream = typeof(ServiceMap).Assembly.GetManifestResourceStream("FlowPolicy.Suggest.Map." + name)
            ?? throw new InvalidOperationException($"resource {name} is missing from {typeof(ServiceMap).Assembly.GetName().Name}: the build embeds it from suggest/Reports/Map (npm ci)");
        using var reader = new StreamReader(stream, Encoding.UTF8);
        return reader.ReadToEnd();
    }
}

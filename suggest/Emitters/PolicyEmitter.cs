using System.Globalization;
using System.Text;
using FlowPolicy.Core.Edges;
using FlowPolicy.Core.Net;
using FlowPolicy.Suggest.Inference;

namespace FlowPolicy.Suggest.Emitters;

/// <summary>One file an emitter produced, relative to the output directory: its YAML documents, written out by the receiver.</summary>
internal sealed record EmittedFile(string RelativePath, IReadOnlyList<YamlMap> Documents)
{
    /// <summary>The file's text (the writer streams it instead: <see cref="WriteTo"/>).</summary>
    public string Content => YamlWriter.Write(Documents);

    public void WriteTo(TextWriter writer) => YamlWriter.Write(writer, Documents);
}

/// <summary>What one format's emitter produced (how many policy objects), plus what it could not express exactly (for the report).</summary>
internal sealed record EmitResult(string Format, int ObjectCount, IReadOnlyList<string> Notes);

/// <summary>
/// Takes an emitter's files as they are made and hands each to the writer at once: a large rule set (10,000
/// workloads, a million rules) makes gigabytes of YAML, which must never be in memory all together.
/// </summary>
internal sealed class EmittedFiles(Action<EmittedFile> write)
{
    public int Count { get; private set; }

    public void Add(EmittedFile file)
    {
        write(file);
        Count++;
    }
}

/// <summary>Translates the neutral rule set into one policy format.</summary>
internal interface IPolicyEmitter
{
    /// <summary>"k8s", "cilium", "istio", "calico".</summary>
    string Format { get; }
    /// <summary>The platform assumptions this format's files rely on (nodes, probes, unenforced directions).</summary>
    string Assumptions { get; }
    /// <summary>
    /// The files of <paramref name="namespaces"/> (in that order), with the notes found while making them: the writer
    /// may run several parts of one format side by side and join them in namespace order.
    /// </summary>
    EmitResult Emit(SuggestionSet set, IReadOnlyList<string> namespaces, EmittedFiles files);
    /// <summary>The format's final notes for the report, from the parts' notes in namespace order.</summary>
    IReadOnlyList<string> Notes(SuggestionSet set, IReadOnlyList<string> namespaceNotes);
}

/// <summary>
/// Nodes that depend only on a peer (and the policy's namespace) or a port, made once per emitter part and shared by
/// every rule that names them: nodes are never changed once built, and a million rules name ~10,000 workloads, so
/// building each rule's selectors afresh was most of the emitters' allocations.
/// </summary>
internal sealed class NodeCache<TKey, TNode>(Func<TKey, TNode> make) where TKey : notnull where TNode : YamlNode
{
    private readonly Dictionary<TKey, TNode> _nodes = new();

    public TNode this[TKey key]
    {
        get
        {
            if (!_nodes.TryGetValue(key, out var node)) _nodes.Add(key, node = make(key));
            return node;
        }
    }
}

/// <summary>Names and texts shared by the emitters.</summary>
internal static class PolicyText
{
    public const string AnnotationPrefix = "flowpolicy.io/";

    /// <summary>Workloads of a namespace that appear in rules, in key order.</summary>
    public static IEnumerable<Peer> WorkloadsIn(SuggestionSet set, string ns) => set.Index.WorkloadsIn(ns);

    public static IEnumerable<SuggestedRule> IngressOf(SuggestionSet set, Peer workload) => set.Index.ToServer(workload.Key);

    public static IEnumerable<SuggestedRule> EgressOf(SuggestionSet set, Peer workload) => set.Index.FromClient(workload.Key);

    /// <summary>The namespaces a document can be written for; a name that is not a DNS-1123 label gets a note instead.</summary>
    public static IEnumerable<string> WritableNamespaces(IEnumerable<string> namespaces, List<string> notes)
    {
        foreach (var ns in namespaces)
        {
            if (KubernetesNames.IsDns1123Label(ns)) yield return ns;
            else notes.Add($"namespace '{ns}' is not a valid Kubernetes namespace name (a DNS-1123 label); no policy is written for it.");
        }
    }

    /// <summary>
    /// Workloads of the namespace reach the nodes (API server, node services) but the inventory gave no node addresses to
    /// allow them by: the namespace then gets no default deny for egress (the report says why).
    /// </summary>
    public static bool NodeEgressUnknown(SuggestionSet set, IEnumerable<Peer> workloads, ClusterFacts cluster) =>
        !cluster.NodeAddressesKnown && workloads.Any(w => EgressOf(set, w).Any(r => r.Server.Kind == PeerKind.Nodes));

    /// <summary>A rule's evidence on one line: "r-id client -> server:port/proto; flows=... confidence=...; flags".</summary>
    public static string Evidence(SuggestedRule rule)
    {
        var text = new StringWriter(CultureInfo.InvariantCulture);
        new EvidenceComment(rule).WriteText(text);
        return text.ToString();
    }

    /// <summary>
    /// Formats <see cref="Evidence(SuggestedRule)"/> into <paramref name="destination"/> without allocating (a million
    /// rules are written once per format and direction); false when it does not fit.
    /// </summary>
    public static bool TryFormatEvidence(Span<char> destination, SuggestedRule rule, out int written)
    {
        var e = rule.Evidence;
        if (!destination.TryWrite(CultureInfo.InvariantCulture,
                $"{rule.Id} {rule.Client.Key} -> {rule.Server.Key}:{rule.Port}/{rule.ProtocolName}; flows={e.Flows} bytes={e.Bytes} first={new TimeText(e.FirstSeen, Seconds: true)} last={new TimeText(e.LastSeen, Seconds: true)} days={e.DaysSeen} replicas={e.ClientReplicas} confidence={rule.ConfidenceName}",
                out written))
            return false;
        for (int i = 0; i < rule.Flags.Count; i++)
        {
            var flag = rule.Flags[i];
            var separator = i == 0 ? "; " : ",";
            if (written + separator.Length + flag.Length > destination.Length) return false;
            separator.CopyTo(destination[written..]);
            written += separator.Length;
            flag.CopyTo(destination[written..]);
            written += flag.Length;
        }
        return true;
    }

    /// <summary>
    /// The object's metadata. Per-rule evidence is not an annotation: Kubernetes rejects an object whose annotations
    /// exceed 256 KiB in all, which a server with a few thousand clients reached (the evidence is a comment next to
    /// each rule instead, <see cref="EvidenceComment"/>). The annotations say how many rules the object holds and
    /// where their evidence is.
    /// </summary>
    public static YamlMap Metadata(string name, string? ns, SuggestionSet set, int rules, IEnumerable<(string Key, string Value)> annotations)
    {
        var meta = YamlNode.Map().Add("name", name);
        if (ns is not null) meta.Add("namespace", ns);
        meta.Add("labels", YamlNode.Map().Add("app.kubernetes.io/managed-by", "flowpolicy"));
        var notes = YamlNode.Map()
            .Add(AnnotationPrefix + "window", string.Create(CultureInfo.InvariantCulture, $"{set.WindowStart:yyyy-MM-ddTHH:mm:ssZ}/{set.WindowEnd:yyyy-MM-ddTHH:mm:ssZ}"));
        if (rules > 0)
        {
            notes.Add(AnnotationPrefix + "rules", YamlNode.Str(rules.ToString(CultureInfo.InvariantCulture)));
            notes.Add(AnnotationPrefix + "evidence", EvidenceNote);
        }
        foreach (var (key, value) in annotations) notes.Add(AnnotationPrefix + key, value);
        meta.Add("annotations", notes);
        return meta;
    }

    public const string EvidenceNote = "a comment before each rule in the suggested file; suggestions.json by rule id";

    public static YamlMap MatchLabels(IEnumerable<KeyValuePair<string, string>> labels)
    {
        var map = YamlNode.Map();
        foreach (var (key, value) in labels) map.Add(key, value);
        return map;
    }

    public static bool HasPorts(SuggestedRule rule) => IpProtocols.HasPorts(rule.Protocol);

    /// <summary>An address block with the exceptions of its family: {cidr, except} (a NetworkPolicy ipBlock, a Cilium CIDRSet entry).</summary>
    public static YamlMap CidrBlock(Cidr block, IReadOnlyList<string> except)
    {
        var map = YamlNode.Map().Add("cidr", block.ToString());
        var list = YamlNode.Seq();
        foreach (var x in except) list.Add(YamlNode.Str(x));
        if (list.ValueCount > 0) map.Add("except", list);
        return map;
    }
}

/// <summary>A rule's evidence as the comment before the rule that allows it (or before where it would be).</summary>
internal sealed class EvidenceComment(SuggestedRule rule, string? lead = null) : YamlComment
{
    [ThreadStatic] private static char[]? t_buffer;

    public override void WriteText(TextWriter w)
    {
        if (lead is not null) WriteOneLine(w, lead);
        var buffer = t_buffer ??= new char[1024];
        if (PolicyText.TryFormatEvidence(buffer, rule, out int written))
        {
            WriteOneLine(w, buffer.AsSpan(0, written));
            return;
        }
        // Very long workload keys: format on the heap (rare).
        var larger = new char[buffer.Length * 16];
        if (PolicyText.TryFormatEvidence(larger, rule, out written)) WriteOneLine(w, larger.AsSpan(0, written));
        else WriteOneLine(w, $"{rule.Id} {rule}");
    }
}

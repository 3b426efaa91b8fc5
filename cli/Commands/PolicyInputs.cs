using System.Globalization;
using FlowPolicy.Analytics.Edges;
using FlowPolicy.Analytics.Intent;
using FlowPolicy.Analytics.Slis;
using FlowPolicy.Cli.Terminal;
using FlowPolicy.ClickHouse;
using FlowPolicy.Core.Edges;
using FlowPolicy.Core.Net;

namespace FlowPolicy.Cli.Commands;

/// <summary>
/// The inputs analyze, suggest and check share: the intended policy from a directory, and edges for a window from
/// ClickHouse. One place, so the commands load them the same way and fail with the same messages.
/// </summary>
internal static class PolicyInputs
{
    private const int NotesShown = 10;

    /// <summary>Loads policy files (directories or files); bad files are usage errors naming file and line.</summary>
    public static IntentPolicySet LoadPolicies(IReadOnlyList<string> paths, IReadOnlyList<string> namespaceFiles, string option)
    {
        foreach (var path in paths)
            if (!Directory.Exists(path) && !File.Exists(path)) throw new UsageException($"{option}: no such file or directory '{path}'");
        IntentPolicySet set;
        try
        {
            set = new IntentPolicyLoader(new IntentPolicyLoaderOptions { NamespaceFiles = namespaceFiles.ToArray() }).Load(paths.ToArray());
        }
        catch (Exception ex) when (ex is PolicyLoadException or FileNotFoundException or DirectoryNotFoundException)
        {
            throw new UsageException(ex.Message);
        }
        // A directory of suggest's output holds hundreds of Calico/Cilium/Istio objects: the first notes say what happens.
        foreach (var note in set.Notes.Take(NotesShown)) Console.Error.WriteLine($"flowpolicy: {note}");
        if (set.Notes.Count > NotesShown)
            Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"flowpolicy: … and {set.Notes.Count - NotesShown} more notes"));
        if (set.NetworkPolicyCount + set.FlowPolicyCount + set.CiliumPolicyCount + set.IstioPolicyCount == 0)
            throw new UsageException($"{option}: no NetworkPolicy, FlowPolicy, Cilium or Istio policy found in {string.Join(", ", paths)}");
        // Istio alone judges TCP at the server's sidecar: egress and UDP stay unrestricted, as on a cluster with Istio only.
        if (set.NetworkPolicyCount + set.FlowPolicyCount + set.CiliumPolicyCount == 0)
            Console.Error.WriteLine("flowpolicy: only Istio AuthorizationPolicies: TCP is judged at the servers' sidecars; egress and UDP are not restricted");
        string l7 = set.CiliumPolicyCount + set.IstioPolicyCount == 0 ? ""
            : string.Create(CultureInfo.InvariantCulture, $"; {set.CiliumPolicyCount} Cilium policies and {set.IstioPolicyCount} Istio policies (L3/L4 and L7)");
        Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"flowpolicy: {set.NetworkPolicyCount} NetworkPolicies and {set.FlowPolicyCount} FlowPolicies from {set.Files} files{l7}"));
        return set;
    }

    /// <summary>The intended policy in <paramref name="directory"/> as an evaluator.</summary>
    public static IIntentEvaluator LoadIntent(string directory, string option = "--intent") =>
        new IntentEvaluator(LoadPolicies([directory], [], option));

    /// <summary>
    /// The intent files at <paramref name="path"/> for the report's drift remediation, loaded quietly (it loads the
    /// intent again for every diff it checks) with the same namespace labels as <see cref="Evaluator"/>.
    /// </summary>
    public static Suggest.Reports.IntentFiles IntentFiles(string path, IReadOnlyDictionary<string, IReadOnlyList<KeyValuePair<string, string>>> observed,
        IReadOnlyDictionary<string, IReadOnlyList<PackedIp>>? nodeAddresses, IstioMesh istio) =>
        new(path, dir => new IntentEvaluator(new IntentPolicyLoader().Load([dir]),
            new IntentEvaluatorOptions { NamespaceLabels = observed, NodeAddresses = nodeAddresses, Istio = istio }));

    /// <summary>
    /// The evaluator of <paramref name="policies"/> with the namespace labels the data showed (inventory Namespace
    /// objects, Hubble records) for every namespaceSelector; namespaces the policy set or --namespaces declares keep those.
    /// <paramref name="nodeAddresses"/> (the inventory's Node objects, by node name) let an ipBlock of a node's address
    /// match that node: the suggested egress to the API server is written that way.
    /// </summary>
    public static IntentEvaluator Evaluator(IntentPolicySet policies, IReadOnlyDictionary<string, IReadOnlyList<KeyValuePair<string, string>>> observed,
        IReadOnlyDictionary<string, IReadOnlyList<PackedIp>>? nodeAddresses, IstioMesh istio)
    {
        int added = observed.Keys.Count(ns => !policies.NamespaceLabels.ContainsKey(ns));
        if (added > 0)
            Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"flowpolicy: namespace labels of {added} namespaces from the flows and inventory (namespaceSelectors match them)"));
        return new IntentEvaluator(policies, new IntentEvaluatorOptions { NamespaceLabels = observed, NodeAddresses = nodeAddresses, Istio = istio });
    }

    /// <summary>
    /// Namespace labels from the Namespace objects in inventory files (`kubectl get namespaces -o json`) and node
    /// addresses from their Node objects, for the ClickHouse mode, where the flows' own namespace labels are not stored;
    /// no node addresses without inventory files.
    /// </summary>
    public static (IReadOnlyDictionary<string, IReadOnlyList<KeyValuePair<string, string>>> NamespaceLabels, IReadOnlyDictionary<string, IReadOnlyList<PackedIp>>? NodeAddresses)
        InventoryFacts(IReadOnlyList<string> files)
    {
        if (files.Count == 0) return (new Dictionary<string, IReadOnlyList<KeyValuePair<string, string>>>(StringComparer.Ordinal), null);
        CommonOptions.RequireFiles(files, "--inventory");
        var result = FlowPolicy.Ingest.Enrichment.InventoryLoader.Load(files);
        foreach (var problem in result.Errors.Take(5)) Console.Error.WriteLine($"flowpolicy: inventory: {problem}");
        return (result.NamespaceLabels, result.Index.NodeAddressesByName);
    }

    /// <summary>Edges for [from, to) from the ClickHouse hourly rollups; the window must be whole hours.</summary>
    /// <summary>The window's edges from the ClickHouse rollups, with the raw-table counts the report explains them by.</summary>
    public static async Task<(IReadOnlyList<Edge> Edges, EdgeInputCounts Counts)> ClickHouseEdgesAsync(string url, string database, DateTime? from, DateTime? to, CancellationToken cancellationToken)
    {
        if (from is null || to is null) throw new UsageException("--clickhouse needs --from and --to (whole UTC hours)");
        var window = new AnalysisWindow(from.Value, to.Value);
        try
        {
            ClickHouseEdgeSource.ValidateWindow(window);
        }
        catch (ArgumentException ex)
        {
            throw new UsageException(ex.Message);
        }
        var options = ServerOptions.ClickHouseClient(url, database);
        try
        {
            using var client = new ClickHouseHttpClient(options);
            var source = new ClickHouseEdgeSource(client);
            return (await source.ReadEdgesAsync(window, cancellationToken), await source.ReadInputCountsAsync(window, cancellationToken));
        }
        catch (Exception ex) when (ex is HttpRequestException or ClickHouseServerException or TimeoutException)
        {
            throw new RuntimeFailureException($"ClickHouse ({options}): {ex.Message}");
        }
    }
}

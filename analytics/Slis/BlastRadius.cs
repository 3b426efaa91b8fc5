using System.Runtime.InteropServices;
using FlowPolicy.Analytics.Intent;
using FlowPolicy.Core.Edges;
using FlowPolicy.Core.Flows;

namespace FlowPolicy.Analytics.Slis;

/// <summary>How many workloads one workload can reach, under the intended policy and under everything observed.</summary>
public readonly record struct BlastRadiusCount(int Intended, int Observed);

/// <summary>
/// Blast radius (README "SLI definitions"): for each workload W among the observed endpoints, the number of other
/// workloads reachable from W along directed paths, where a step A -> B exists
/// <list type="bullet">
/// <item>observed: when an edge A -> B:port was observed in the window (any verdict, at least one request flow);</item>
/// <item>intended: when the intended policy allows A to connect to B on at least one (port, protocol) that B was
/// observed serving in the window.</item>
/// </list>
/// Paths may pass through any endpoint (nodes, addresses, services); only workloads are counted, W itself never.
/// </summary>
internal static class BlastRadius
{
    public static SortedDictionary<string, BlastRadiusCount> Compute(IReadOnlyList<Edge> edges, IIntentEvaluator intent)
    {
        var endpoints = new List<Endpoint>();
        var ids = new Dictionary<Endpoint, int>();
        // Edge sources share endpoint objects: a reference lookup first, the key comparison only for a new object.
        var idsByReference = new Dictionary<Endpoint, int>(ReferenceEqualityComparer.Instance);
        int Id(Endpoint e)
        {
            if (idsByReference.TryGetValue(e, out int id)) return id;
            if (!ids.TryGetValue(e, out id))
            {
                ids[e] = id = endpoints.Count;
                endpoints.Add(e);
            }
            idsByReference[e] = id;
            return id;
        }

        var observedArcs = new List<(int From, int To)>();
        var served = new Dictionary<int, SortedSet<(byte Protocol, ushort Port)>>();
        foreach (var edge in edges)
        {
            if (edge.Flows <= 0) continue;
            int client = Id(edge.Client), server = Id(edge.Server);
            observedArcs.Add((client, server));
            if (!served.TryGetValue(server, out var ports)) served[server] = ports = new SortedSet<(byte, ushort)>();
            ports.Add((edge.Protocol, edge.Port));
        }

        int nodes = endpoints.Count;
        var intendedArcs = intent is IntentEvaluator evaluator && evaluator.Classify(endpoints) is { } classes
            ? ClassArcs(endpoints, served, evaluator, classes, ref nodes)
            : PairArcs(endpoints, served, intent);

        var counted = endpoints.Select(e => e.Kind == EndpointKind.Pod).ToArray();
        var observed = Reachability.CountReachable(endpoints.Count, observedArcs, counted);
        // The class nodes of the intended graph (if any) come after the endpoints and are never counted.
        var countedWithClasses = nodes == endpoints.Count ? counted : [.. counted, .. new bool[nodes - endpoints.Count]];
        var intended = Reachability.CountReachable(nodes, intendedArcs, countedWithClasses);
        var result = new SortedDictionary<string, BlastRadiusCount>(StringComparer.Ordinal);
        for (int i = 0; i < endpoints.Count; i++)
            if (counted[i]) result[endpoints[i].Key] = new BlastRadiusCount(intended[i], observed[i]);
        return result;
    }

    /// <summary>Every endpoint against every observed server port: N x P evaluations, stopping at the first allowed port.</summary>
    private static List<(int From, int To)> PairArcs(List<Endpoint> endpoints, Dictionary<int, SortedSet<(byte Protocol, ushort Port)>> served, IIntentEvaluator intent)
    {
        var intendedArcs = new List<(int From, int To)>();
        for (int client = 0; client < endpoints.Count; client++)
            foreach (var (server, ports) in served)
            {
                if (server == client) continue;
                foreach (var (protocol, port) in ports)
                    if (intent.Evaluate(endpoints[client], endpoints[server], port, protocol).Allowed)
                    {
                        intendedArcs.Add((client, server));
                        break;
                    }
            }
        return intendedArcs;
    }

    /// <summary>
    /// The same reachability as <see cref="PairArcs"/>, through class nodes: endpoint -> its client class K; K -> a
    /// server group G (servers of one server class serving the same ports) when K may reach one of G's ports; G -> each
    /// of its servers. A path C -> K -> G -> S exists exactly when the intent lets C reach S on a port S serves, since
    /// every member of a class gets the same decisions. The one extra path, C -> K -> G -> C, leads back to C itself,
    /// which is never counted. Decisions: client classes x server classes x distinct ports, each once.
    /// </summary>
    private static List<(int From, int To)> ClassArcs(List<Endpoint> endpoints, Dictionary<int, SortedSet<(byte Protocol, ushort Port)>> served,
        IntentEvaluator intent, EndpointClasses classes, ref int nodes)
    {
        var clientRepresentative = new int[classes.ClientClassCount];
        Array.Fill(clientRepresentative, -1);
        for (int i = 0; i < endpoints.Count; i++)
            if (clientRepresentative[classes.ClientClass[i]] < 0) clientRepresentative[classes.ClientClass[i]] = i;

        // Server groups: one server class serving one set of ports.
        var groupIds = new Dictionary<(int ServerClass, string Ports), int>();
        var groupMembers = new List<List<int>>();
        var groupPorts = new List<(byte Protocol, ushort Port)[]>();
        var groupClass = new List<int>();
        var serverRepresentative = new Dictionary<int, int>();
        foreach (var (server, ports) in served)
        {
            int serverClass = classes.ServerClass[server];
            serverRepresentative.TryAdd(serverClass, server);
            var key = (serverClass, string.Join(",", ports.Select(p => p.Protocol + "/" + p.Port)));
            if (!groupIds.TryGetValue(key, out int group))
            {
                groupIds[key] = group = groupMembers.Count;
                groupMembers.Add(new List<int>());
                groupPorts.Add(ports.ToArray());
                groupClass.Add(serverClass);
            }
            groupMembers[group].Add(server);
        }

        int firstClassNode = endpoints.Count;
        int firstGroupNode = firstClassNode + classes.ClientClassCount;
        nodes = firstGroupNode + groupMembers.Count;
        var arcs = new List<(int From, int To)>(endpoints.Count + served.Count);
        for (int i = 0; i < endpoints.Count; i++) arcs.Add((i, firstClassNode + classes.ClientClass[i]));
        for (int g = 0; g < groupMembers.Count; g++)
            foreach (int server in groupMembers[g]) arcs.Add((firstGroupNode + g, server));

        var decided = new Dictionary<(int ClientClass, int ServerClass, byte Protocol, ushort Port), bool>();
        for (int k = 0; k < clientRepresentative.Length; k++)
        {
            var client = endpoints[clientRepresentative[k]];
            for (int g = 0; g < groupMembers.Count; g++)
            {
                int serverClass = groupClass[g];
                foreach (var (protocol, port) in groupPorts[g])
                {
                    ref bool allowed = ref CollectionsMarshal.GetValueRefOrAddDefault(decided, (k, serverClass, protocol, port), out bool known);
                    if (!known) allowed = intent.Allows(client, endpoints[serverRepresentative[serverClass]], port, protocol);
                    if (allowed)
                    {
                        arcs.Add((firstClassNode + k, firstGroupNode + g));
                        break;
                    }
                }
            }
        }
        return arcs;
    }
}

/// <summary>
/// Transitive reach counts on a directed graph in O(V + E + C * V / 64): strongly connected components (Tarjan,
/// iterative), then one bitset per component of the counted nodes it reaches, filled in Tarjan's emission order
/// (reverse topological, so successors are complete first). 10k nodes need about 12 MB of bitsets.
/// </summary>
internal static class Reachability
{
    /// <summary>For each node, how many counted nodes other than itself it reaches.</summary>
    public static int[] CountReachable(int nodeCount, IReadOnlyList<(int From, int To)> arcs, bool[] counted)
    {
        var adjacency = BuildAdjacency(nodeCount, arcs, out var offsets);
        var (component, componentCount) = StronglyConnected(nodeCount, offsets, adjacency);

        // Bits only for the counted nodes (workloads): the other endpoints and the class nodes are paths, never counted.
        var bit = new int[nodeCount];
        int bits = 0;
        for (int v = 0; v < nodeCount; v++) bit[v] = counted[v] ? bits++ : -1;
        int words = (bits + 63) / 64;
        var closure = new ulong[componentCount][];
        // Members per component, in emission order (component ids are assigned in emission order).
        var members = new List<int>[componentCount];
        for (int c = 0; c < componentCount; c++) members[c] = new List<int>();
        for (int v = 0; v < nodeCount; v++) members[component[v]].Add(v);

        // Each successor component is folded in once per component, however many arcs lead there.
        var foldedInto = new int[componentCount];
        Array.Fill(foldedInto, -1);
        for (int c = 0; c < componentCount; c++)
        {
            var set = new ulong[words];
            foreach (int v in members[c])
            {
                if (bit[v] >= 0) set[bit[v] >> 6] |= 1UL << (bit[v] & 63);
                for (int i = offsets[v]; i < offsets[v + 1]; i++)
                {
                    int other = component[adjacency[i]];
                    if (other == c || foldedInto[other] == c) continue;
                    foldedInto[other] = c;
                    var theirs = closure[other];
                    for (int w = 0; w < words; w++) set[w] |= theirs[w];
                }
            }
            closure[c] = set;
        }

        var result = new int[nodeCount];
        for (int v = 0; v < nodeCount; v++)
        {
            int count = 0;
            foreach (ulong word in closure[component[v]]) count += System.Numerics.BitOperations.PopCount(word);
            result[v] = counted[v] ? count - 1 : count;
        }
        return result;
    }

    private static int[] BuildAdjacency(int nodeCount, IReadOnlyList<(int From, int To)> arcs, out int[] offsets)
    {
        offsets = new int[nodeCount + 1];
        foreach (var (from, _) in arcs) offsets[from + 1]++;
        for (int i = 0; i < nodeCount; i++) offsets[i + 1] += offsets[i];
        var fill = offsets[..nodeCount];
        var adjacency = new int[arcs.Count];
        foreach (var (from, to) in arcs) adjacency[fill[from]++] = to;
        return adjacency;
    }

    /// <summary>Tarjan without recursion (10k-node chains would overflow the stack); components numbered in emission order.</summary>
    private static (int[] Component, int Count) StronglyConnected(int nodeCount, int[] offsets, int[] adjacency)
    {
        var index = new int[nodeCount];
        var low = new int[nodeCount];
        var component = new int[nodeCount];
        var onStack = new bool[nodeCount];
        Array.Fill(index, -1);
        var stack = new Stack<int>();
        var calls = new Stack<(int Node, int Next)>();
        int nextIndex = 0, count = 0;

        for (int root = 0; root < nodeCount; root++)
        {
            if (index[root] >= 0) continue;
            calls.Push((root, offsets[root]));
            index[root] = low[root] = nextIndex++;
            stack.Push(root);
            onStack[root] = true;
            while (calls.Count > 0)
            {
                var (v, next) = calls.Pop();
                if (next < offsets[v + 1])
                {
                    calls.Push((v, next + 1));
                    int w = adjacency[next];
                    if (index[w] < 0)
                    {
                        index[w] = low[w] = nextIndex++;
                        stack.Push(w);
                        onStack[w] = true;
                        calls.Push((w, offsets[w]));
                    }
                    else if (onStack[w]) low[v] = Math.Min(low[v], index[w]);
                    continue;
                }
                if (low[v] == index[v])
                {
                    int w;
                    do
                    {
                        w = stack.Pop();
                        onStack[w] = false;
                        component[w] = count;
                    } while (w != v);
                    count++;
                }
                if (calls.Count > 0)
                {
                    var parent = calls.Peek().Node;
                    low[parent] = Math.Min(low[parent], low[v]);
                }
            }
        }
        return (component, count);
    }
}

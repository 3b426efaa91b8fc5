using FlowPolicy.Analytics.Slis;

namespace FlowPolicy.Tests.Analytics;

public sealed class ReachabilityTests
{
    [Fact]
    public void Members_of_a_cycle_reach_each_other_but_never_count_themselves()
    {
        // 0 -> 1 -> 2 -> 0 (cycle), 2 -> 3, 4 isolated; 3 is not a workload (not counted) but leads to 5.
        (int, int)[] arcs = [(0, 1), (1, 2), (2, 0), (2, 3), (3, 5)];
        bool[] counted = [true, true, true, false, true, true];
        var reach = Reachability.CountReachable(6, arcs, counted);
        Assert.Equal([3, 3, 3, 1, 0, 0], reach);
    }

    [Fact]
    public void A_ten_thousand_node_chain_is_counted_without_recursion()
    {
        const int n = 10_000;
        var arcs = Enumerable.Range(0, n - 1).Select(i => (i, i + 1)).ToList();
        var reach = Reachability.CountReachable(n, arcs, Enumerable.Repeat(true, n).ToArray());
        Assert.Equal(n - 1, reach[0]);
        Assert.Equal(0, reach[n - 1]);
        Assert.Equal(n / 2 - 1, reach[n / 2]);
    }

    [Fact]
    public void Ten_thousand_workloads_with_two_hundred_thousand_arcs_count_what_a_breadth_first_search_counts()
    {
        // No clock here (time is not asserted in tests): the speed is the benchmarks' business, the answer is checked
        // against a plain search from a sample of nodes, plus the few nodes nothing leaves.
        const int n = 10_000;
        var random = new Random(7);
        var arcs = new List<(int, int)>();
        for (int i = 0; i < 200_000; i++) arcs.Add((random.Next(n), random.Next(n)));
        var reach = Reachability.CountReachable(n, arcs, Enumerable.Repeat(true, n).ToArray());
        // A random graph with average out-degree 20 has one giant component reaching almost everything.
        Assert.True(reach.Max() > n * 0.9);
        var next = arcs.ToLookup(a => a.Item1, a => a.Item2);
        foreach (int from in Enumerable.Range(0, 10).Select(_ => random.Next(n)).Concat(Enumerable.Range(0, n).Where(v => !next[v].Any()).Take(5)))
            Assert.Equal(Search(from, next), reach[from]);
    }

    /// <summary>Nodes reachable from <paramref name="from"/>, itself not counted (the reference for the bitset closure).</summary>
    private static int Search(int from, ILookup<int, int> next)
    {
        var seen = new HashSet<int> { from };
        var queue = new Queue<int>([from]);
        while (queue.TryDequeue(out int v))
            foreach (int w in next[v])
                if (seen.Add(w)) queue.Enqueue(w);
        return seen.Count - 1;
    }

    [Fact]
    public void Blast_radius_of_five_hundred_workloads_evaluates_every_pair_once_per_served_port()
    {
        // Workload i calls i+1 on port 8000 + i % 3; the intent allows only even -> odd steps.
        const int n = 500;
        var workloads = Enumerable.Range(0, n).Select(i => TestEdges.Workload("ns", $"w{i:D3}")).ToArray();
        var edges = Enumerable.Range(0, n - 1).Select(i => TestEdges.Edge(workloads[i], workloads[i + 1], (ushort)(8000 + (i + 1) % 3), allowed: 1)).ToList();
        var intent = new EvenToOdd();
        var radius = BlastRadius.Compute(edges, intent);

        Assert.Equal((n - 1) * (n - 1), intent.Evaluations); // every endpoint x every other server's one port
        Assert.Equal(new BlastRadiusCount(1, n - 1), radius["ns/w000"]);
        Assert.Equal(new BlastRadiusCount(0, n - 2), radius["ns/w001"]);
    }

    private sealed class EvenToOdd : FlowPolicy.Analytics.Intent.IIntentEvaluator
    {
        public int Evaluations;
        public IReadOnlyList<FlowPolicy.Analytics.Intent.IntentRule> Rules => [];
        public FlowPolicy.Analytics.Intent.IntentDecision Evaluate(FlowPolicy.Core.Edges.Endpoint client, FlowPolicy.Core.Edges.Endpoint server, ushort port, byte protocol)
        {
            Evaluations++;
            int c = int.Parse(client.Name[1..]), s = int.Parse(server.Name[1..]);
            return new(c % 2 == 0 && s == c + 1, [], "");
        }
    }
}

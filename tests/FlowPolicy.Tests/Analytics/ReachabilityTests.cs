using System.Diagnostics;
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
    public void Ten_thousand_workloads_with_two_hundred_thousand_arcs_take_well_under_ten_seconds()
    {
        const int n = 10_000;
        var random = new Random(7);
        var arcs = new List<(int, int)>();
        for (int i = 0; i < 200_000; i++) arcs.Add((random.Next(n), random.Next(n)));
        var clock = Stopwatch.StartNew();
        var reach = Reachability.CountReachable(n, arcs, Enumerable.Repeat(true, n).ToArray());
        clock.Stop();
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"took {clock.Elapsed}");
        // A random graph with average out-degree 20 has one giant component reaching almost everything.
        Assert.True(reach.Max() > n * 0.9);
    }
}

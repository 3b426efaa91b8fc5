using System.Text.Json;
using FlowPolicy.Analytics.Graph;
using FlowPolicy.Analytics.Slis;
using FlowPolicy.Core.Edges;
using FlowPolicy.Core.Net;
using static FlowPolicy.Tests.Analytics.TestEdges;

namespace FlowPolicy.Tests.Analytics;

public sealed class GraphTests
{
    private static readonly Endpoint Frontend = Workload("shop", "frontend");
    private static readonly Endpoint Cart = Workload("shop", "cart");
    private static readonly Endpoint Postgres = Workload("data", "postgres");

    private static DependencyGraph ThousandInternetClients()
    {
        var edges = new List<Edge>();
        for (int i = 0; i < 1000; i++)
            edges.Add(Edge(Endpoint.FromAddress(PackedIp.FromV4(198, 51, (byte)(i / 250), (byte)(i % 250 + 1))), Frontend, 443, allowed: 2));
        edges.Add(Edge(Frontend, Cart, 7070, allowed: 500));
        edges.Add(Edge(Cart, Postgres, 5432, allowed: 0, denied: 7));
        edges.Sort(FlowPolicy.Core.Edges.EdgeOrder.Compare);
        var intent = new TestIntent().Allow("internet", "shop/frontend", 443, "ingress").Allow("shop/frontend", "shop/cart", 7070, "fc");
        var window = AnalysisWindow.Spanning(edges);
        return DependencyGraph.Build(window, AssessedEdge.Assess(edges, intent));
    }

    [Fact]
    public void Internet_clients_collapse_into_one_node_per_server_port_that_says_how_many_addresses_it_is()
    {
        var dot = GraphDot.Render(ThousandInternetClients());
        Assert.Contains("internet\\n1000 addresses", dot);
        Assert.DoesNotContain("198.51.", dot);
        // Three drawn edges: internet -> frontend, frontend -> cart, cart -> postgres.
        Assert.Equal(3, dot.Split('\n').Count(l => l.Contains(" -> ")));
    }

    [Fact]
    public void Namespaces_become_clusters_and_denied_edges_are_marked()
    {
        var dot = GraphDot.Render(ThousandInternetClients());
        Assert.Contains("label=\"shop\"", dot);
        Assert.Contains("label=\"data\"", dot);
        var denied = dot.Split('\n').Single(l => l.Contains("\"shop/cart\" -> \"data/postgres\""));
        Assert.Contains("color=red", denied);
        Assert.Contains("style=dashed", denied);
        Assert.Contains("7 denied", denied);
    }

    [Fact]
    public void Graph_json_keeps_every_address_exactly()
    {
        using var buffer = new MemoryStream();
        GraphJson.Write(buffer, ThousandInternetClients());
        using var json = JsonDocument.Parse(buffer.ToArray());
        var edges = json.RootElement.GetProperty("edges").EnumerateArray().ToList();
        Assert.Equal(1002, edges.Count);
        Assert.Equal(1000, edges.Select(e => e.GetProperty("src").GetString()).Count(s => s!.StartsWith("198.51.", StringComparison.Ordinal)));
        Assert.Equal(1003, json.RootElement.GetProperty("nodes").GetArrayLength());
        var denied = edges.Single(e => e.GetProperty("dst").GetString() == "data/postgres");
        Assert.Equal("denied", denied.GetProperty("intent").GetString());
        Assert.Equal(7, denied.GetProperty("denied").GetInt64());
    }

    [Fact]
    public void Dot_quoting_escapes_quotes_backslashes_and_newlines()
    {
        Assert.Equal("\"a\\\"b\\\\c\\nd\"", GraphDot.Quote("a\"b\\c\nd"));
    }

    [Fact]
    public async Task Graphviz_renders_the_graph_to_svg()
    {
        var svg = await new GraphvizRenderer().RenderSvgAsync(GraphDot.Render(ThousandInternetClients()));
        Assert.Contains("<svg", svg);
        Assert.Contains("1000 addresses", svg);
    }

    [Fact]
    public async Task A_missing_dot_program_is_a_clear_error()
    {
        var renderer = new GraphvizRenderer(new GraphvizOptions { DotPath = "/nonexistent/dot" });
        var error = await Assert.ThrowsAsync<GraphvizException>(() => renderer.RenderSvgAsync("digraph {}"));
        Assert.Contains("graphviz", error.Message, StringComparison.OrdinalIgnoreCase);
    }
}

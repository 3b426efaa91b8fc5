using FlowPolicy.Cli.Commands;
using FlowPolicy.Core.Edges;
using FlowPolicy.Core.Net;
using FlowPolicy.Ingest.Embedded;
using FlowPolicy.Suggest.Inference;
using FlowPolicy.Suggest.Reports;

namespace FlowPolicy.Tests.Suggest;

/// <summary>The built-in sample app, a week of it, turned into edges, a suggestion and its files once per test class.</summary>
public sealed class SampleSuggestion : IDisposable
{
    public SampleSuggestion()
    {
        Directory = System.IO.Directory.CreateTempSubdirectory("flowpolicy-suggest-").FullName;
        var files = SampleCommand.Write(Path.Combine(Directory, "sample"), SampleCommand.DefaultStart, days: 7, seed: 42, rate: 2);
        Edges = new FileEdgeSource(new FileEdgeSourceOptions { FlowFiles = files.FlowFiles, InventoryFiles = files.InventoryFiles }).Load().Edges;
        Set = new RuleInference().Infer(Edges);
        Out = Path.Combine(Directory, "out");
        new SuggestionOutput(new SuggestionOutputOptions { Directory = Out }).Write(Set);
    }

    /// <summary>The same suggestion written with --l7 (L7 and FQDN rules), made on first use.</summary>
    public string OutL7
    {
        get
        {
            lock (this)
            {
                var dir = Path.Combine(Directory, "out-l7");
                if (!System.IO.Directory.Exists(dir)) new SuggestionOutput(new SuggestionOutputOptions { Directory = dir, L7 = true }).Write(Set);
                return dir;
            }
        }
    }

    public string Directory { get; }
    public string Out { get; }
    public IReadOnlyList<Edge> Edges { get; }
    public SuggestionSet Set { get; }

    /// <summary>Observed endpoints plus unobserved addresses (public, private, next to observed ones) to probe with.</summary>
    public IReadOnlyList<Endpoint> Universe()
    {
        var random = new Random(7);
        var observed = Edges.SelectMany(e => new[] { e.Client, e.Server }).DistinctBy(e => e.Key).ToList();
        var identities = observed.Where(e => !e.IsAddress).ToList();
        // A slice of the 300 internet clients keeps the pair count manageable; every other address is kept.
        var addresses = observed.Where(e => e.IsAddress).OrderBy(e => e.Key, StringComparer.Ordinal)
            .Where((e, i) => e.Kind != Core.Flows.EndpointKind.External || i % 20 == 0 || !e.Key.Contains('.') || e.Key.StartsWith("19", StringComparison.Ordinal) || e.Key.StartsWith("20", StringComparison.Ordinal)).ToList();
        var extra = new List<Endpoint>();
        for (int i = 0; i < 12; i++) extra.Add(Endpoint.FromAddress(PackedIp.FromV4((byte)random.Next(1, 224), (byte)random.Next(256), (byte)random.Next(256), (byte)random.Next(1, 255))));
        extra.Add(Endpoint.FromAddress(PackedIp.Parse("10.0.9.98")));
        extra.Add(Endpoint.FromAddress(PackedIp.Parse("192.168.1.5")));
        extra.Add(Endpoint.FromAddress(PackedIp.Parse("192.0.2.24")));
        extra.Add(Endpoint.FromAddress(PackedIp.Parse("198.51.100.8")));
        extra.Add(Endpoint.FromAddress(PackedIp.Parse("2001:db8::1")));
        return identities.Concat(addresses).Concat(extra).DistinctBy(e => e.Key).ToList();
    }

    public IReadOnlyList<(ushort Port, byte Protocol)> Ports()
    {
        var random = new Random(11);
        var ports = Edges.Select(e => (e.Port, e.Protocol)).ToHashSet();
        foreach (var p in new ushort[] { 22, 80, 443, 5432, 8443, 9999 }) { ports.Add((p, IpProtocols.Tcp)); ports.Add((p, IpProtocols.Udp)); }
        for (int i = 0; i < 6; i++) ports.Add(((ushort)random.Next(1, 65535), i % 2 == 0 ? IpProtocols.Tcp : IpProtocols.Udp));
        return ports.OrderBy(p => p.Protocol).ThenBy(p => p.Item1).ToList();
    }

    public void Dispose() => System.IO.Directory.Delete(Directory, recursive: true);
}

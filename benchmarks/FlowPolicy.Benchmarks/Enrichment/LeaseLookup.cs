using BenchmarkDotNet.Attributes;
using FlowPolicy.Benchmarks.Data;
using FlowPolicy.Core.Flows;
using FlowPolicy.Core.Net;
using FlowPolicy.Ingest.Enrichment;

namespace FlowPolicy.Benchmarks.Enrichment;

/// <summary>
/// Address -> identity at a time, on 100k leases: 79,900 pod addresses, 20,000 of them reused by a second pod
/// a day later (the IP-reuse trap), and 100 /24 networks for external ranges. Queries: 85% pod addresses at a
/// time inside a lease, 10% external addresses resolved by network, 5% unknown addresses.
/// </summary>
public class LeaseLookup
{
    private const int Lookups = 100_000;
    private const int ScanLookups = 1_000;
    private LeaseIndex _index = null!;
    private Lease[] _leases = [];
    private Dictionary<string, List<Lease>> _byText = null!;
    private List<Lease> _networks = null!;
    private (PackedIp Ip, DateTime At)[] _queries = [];

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(7);
        var leases = new List<Lease>(100_000);
        var now = BenchData.Start;
        var pods = BenchData.Pods;
        for (int i = 0; i < 79_900; i++)
        {
            var ip = PackedIp.FromV4(10, (byte)(16 + i / 65536), (byte)(i / 256 % 256), (byte)(i % 256));
            var identity = pods[i % pods.Count].Identity;
            if (i < 20_000)
            {
                leases.Add(new Lease(IpPrefix.Host(ip), now.AddDays(-2), now.AddDays(-1), pods[(i + 7) % pods.Count].Identity, [], "bench:old"));
                leases.Add(new Lease(IpPrefix.Host(ip), now.AddDays(-1), DateTime.MaxValue, identity, [new ServedPort(8080, IpProtocols.Tcp, "http")], "bench:new"));
            }
            else leases.Add(new Lease(IpPrefix.Host(ip), now.AddDays(-3), DateTime.MaxValue, identity, [], "bench"));
        }
        var external = new WorkloadIdentity(EndpointKind.External, null, "partner-api");
        for (int n = 0; n < 100; n++)
            leases.Add(new Lease(IpPrefix.Of(PackedIp.FromV4(203, 0, (byte)n, 0), 120), now.AddDays(-30), DateTime.MaxValue, external, [], "bench:cidr"));

        _leases = leases.ToArray();
        _index = LeaseIndex.Build(leases, identityCount: pods.Count + 1);
        _networks = leases.Where(l => !l.IsHost).ToList();
        _byText = new Dictionary<string, List<Lease>>();
        foreach (var lease in leases.Where(l => l.IsHost))
        {
            string key = lease.Network.ToString();
            if (!_byText.TryGetValue(key, out var list)) _byText[key] = list = [];
            list.Add(lease);
        }

        _queries = new (PackedIp, DateTime)[Lookups];
        for (int q = 0; q < Lookups; q++)
        {
            int kind = random.Next(100);
            var at = now.AddSeconds(random.Next(-80_000, 3600));
            if (kind < 85)
            {
                int i = random.Next(79_900);
                _queries[q] = (PackedIp.FromV4(10, (byte)(16 + i / 65536), (byte)(i / 256 % 256), (byte)(i % 256)), at);
            }
            else if (kind < 95) _queries[q] = (PackedIp.FromV4(203, 0, (byte)random.Next(100), (byte)random.Next(1, 255)), at);
            else _queries[q] = (PackedIp.FromV4(172, 16, (byte)random.Next(256), (byte)random.Next(1, 255)), at);
        }

        // Like for like: all three must find the same identities.
        long index = LeaseIndexLookup(), text = DictionaryByIpText();
        if (index != text) throw new InvalidOperationException($"lease index found {index}, dictionary {text}");
    }

    /// <summary>What one writes first: key the leases by the address text, format the address per lookup.</summary>
    [Benchmark(Baseline = true, OperationsPerInvoke = Lookups, Description = "Dictionary<string> by IP text")]
    public long DictionaryByIpText()
    {
        long found = 0;
        foreach (var (ip, at) in _queries)
        {
            Lease? hit = null;
            if (_byText.TryGetValue(ip.ToString(), out var list))
                foreach (var lease in list)
                    if (lease.From <= at && at < lease.To) hit = lease;
            if (hit is null)
                foreach (var network in _networks)
                    if (ip.Mask(network.PrefixLength) == network.Network && network.From <= at && at < network.To) hit = network;
            if (hit is not null) found++;
        }
        return found;
    }

    [Benchmark(OperationsPerInvoke = Lookups, Description = "LeaseIndex.Lookup")]
    public long LeaseIndexLookup()
    {
        long found = 0;
        foreach (var (ip, at) in _queries)
            if (_index.Lookup(ip, at) is not null) found++;
        return found;
    }

    /// <summary>No index at all: scan every lease per lookup (1,000 lookups; per-lookup numbers still compare).</summary>
    [Benchmark(OperationsPerInvoke = ScanLookups, Description = "Linear scan (1k lookups)")]
    public long LinearScan()
    {
        long found = 0;
        for (int q = 0; q < ScanLookups; q++)
        {
            var (ip, at) = _queries[q];
            Lease? best = null;
            foreach (var lease in _leases)
            {
                if (lease.From > at || at >= lease.To) continue;
                if (lease.IsHost ? lease.Network != ip : ip.Mask(lease.PrefixLength) != lease.Network) continue;
                if (best is null || lease.PrefixLength > best.PrefixLength) best = lease;
            }
            if (best is not null) found++;
        }
        return found;
    }
}

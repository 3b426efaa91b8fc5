using FlowPolicy.Core.Flows;
using FlowPolicy.Core.Net;
using FlowPolicy.Ingest.Enrichment;

namespace FlowPolicy.Tests.Enrichment;

public sealed class LeaseIndexTests
{
    [Theory]
    [InlineData(1, 1)]
    [InlineData(7, 2)]
    [InlineData(300, 3)]
    [InlineData(5_000, 4)]
    public void Lookups_match_a_scan_of_every_lease_for_random_reused_addresses(int addresses, int seed)
    {
        // Host leases on v4 and v6 addresses, reused over time with overlaps, gaps, open ends and empty ranges; a few
        // networks behind them. The reference scans all leases: the host lease covering the instant with the latest
        // From (loaded last on a tie) wins, else the longest network prefix the same way.
        var random = new Random(seed);
        var start = new DateTime(2026, 11, 1, 0, 0, 0, DateTimeKind.Utc);
        var ips = new PackedIp[addresses];
        for (int i = 0; i < ips.Length; i++)
            ips[i] = random.Next(5) == 0 ? new PackedIp(0xfd00_0000_0000_0000UL, (ulong)i) : PackedIp.FromV4((uint)(0x0A00_0000 + i * 7));
        var leases = new List<Lease>();
        foreach (var ip in ips)
        {
            int count = random.Next(1, 4);
            for (int j = 0; j < count; j++) leases.Add(RandomLease(ip, 128));
        }
        leases.Add(RandomLease(PackedIp.FromV4(10, 0, 0, 0), 104)); // 10.0.0.0/8
        leases.Add(RandomLease(PackedIp.FromV4(10, 0, 0, 0), 120)); // 10.0.0.0/24
        var index = LeaseIndex.Build(leases, leases.Count);

        Assert.Equal(addresses, index.AddressCount);
        for (int probe = 0; probe < 4_000; probe++)
        {
            var ip = random.Next(10) == 0 ? PackedIp.FromV4(10, 9, 9, (byte)random.Next(256)) : ips[random.Next(ips.Length)];
            var at = start.AddMinutes(random.Next(-60, 60 * 24 * 10));
            Assert.Same(Reference(ip, at), index.Find(ip, at));
        }

        Lease RandomLease(PackedIp network, int prefixLength)
        {
            var from = start.AddMinutes(random.Next(0, 60 * 24 * 9));
            var to = random.Next(6) switch
            {
                0 => DateTime.MaxValue,
                1 => from, // covers no instant
                _ => from.AddMinutes(random.Next(1, 60 * 24 * 3)),
            };
            var identity = new WorkloadIdentity(EndpointKind.Pod, "ns", $"w{leases.Count}", "Deployment", $"p{leases.Count}");
            return new Lease(IpPrefix.Of(network, prefixLength), from, to, identity, [], $"test:{leases.Count}");
        }

        Lease? Reference(PackedIp ip, DateTime at)
        {
            foreach (int length in new[] { 128, 120, 104 })
            {
                if (length < 128 && !ip.IsV4) continue;
                Lease? best = null;
                foreach (var lease in leases)
                    if (lease.PrefixLength == length && lease.Network == ip.Mask(length) && lease.From <= at && at < lease.To
                        && (best is null || lease.From >= best.From))
                        best = lease;
                if (best is not null) return best;
            }
            return null;
        }
    }
}

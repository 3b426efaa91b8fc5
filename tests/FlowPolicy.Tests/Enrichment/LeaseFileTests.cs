using System.Text;
using FlowPolicy.Core.Flows;
using FlowPolicy.Core.Net;
using FlowPolicy.Ingest.Enrichment;

namespace FlowPolicy.Tests.Enrichment;

public sealed class LeaseFileTests
{
    private static readonly DateTime Nov1 = new(2026, 11, 1, 0, 0, 0, DateTimeKind.Utc);

    private static InventoryLoadResult Parse(string content, string source = "leases.jsonl") =>
        InventoryLoader.Parse(Encoding.UTF8.GetBytes(content), source);

    private static PackedIp Ip(string text) => PackedIp.Parse(text);

    [Fact]
    public void A_reused_ip_maps_to_the_pod_that_held_it_at_flow_time()
    {
        var result = Parse("""
            {"ip":"10.244.1.7","from":"2026-11-01T00:00:00Z","to":"2026-11-03T12:00:00Z","kind":"pod","namespace":"shop","workload":"cartservice","workload_kind":"Deployment","name":"cartservice-7d9c-abcde","labels":{"app":"cartservice"},"ports":[{"port":8080,"protocol":"TCP","name":"http"}]}
            {"ip":"10.244.1.7","from":"2026-11-03T12:00:00Z","kind":"pod","namespace":"billing","workload":"invoicer","workload_kind":"StatefulSet","name":"invoicer-0"}
            """);

        Assert.Empty(result.Errors);
        var first = result.Index.Lookup(Ip("10.244.1.7"), Nov1.AddDays(1));
        var second = result.Index.Lookup(Ip("10.244.1.7"), Nov1.AddDays(3));
        Assert.Equal("shop/cartservice", first?.ToString());
        Assert.Equal("Deployment", first?.WorkloadKind);
        Assert.Equal("cartservice-7d9c-abcde", first?.Name);
        Assert.Equal("cartservice", first?.Label("app"));
        Assert.Equal("billing/invoicer", second?.ToString());
        Assert.Null(result.Index.Lookup(Ip("10.244.1.7"), Nov1.AddSeconds(-1)));
        Assert.Null(result.Index.Lookup(Ip("10.244.1.8"), Nov1.AddDays(1)));
    }

    [Fact]
    public void The_to_boundary_is_exclusive_and_a_missing_to_stays_valid()
    {
        var result = Parse("""
            {"ip":"10.0.0.5","from":"2026-11-01T00:00:00Z","to":"2026-11-02T00:00:00Z","kind":"pod","namespace":"a","workload":"old"}
            {"ip":"10.0.0.6","from":"2026-11-01T00:00:00Z","kind":"pod","namespace":"a","workload":"forever"}
            """);
        var end = new DateTime(2026, 11, 2, 0, 0, 0, DateTimeKind.Utc);

        Assert.Equal("a/old", result.Index.Lookup(Ip("10.0.0.5"), end.AddTicks(-1))?.ToString());
        Assert.Null(result.Index.Lookup(Ip("10.0.0.5"), end));
        Assert.Equal("a/old", result.Index.Lookup(Ip("10.0.0.5"), Nov1)?.ToString()); // from is inclusive
        Assert.Equal("a/forever", result.Index.Lookup(Ip("10.0.0.6"), new DateTime(2099, 1, 1, 0, 0, 0, DateTimeKind.Utc))?.ToString());
    }

    [Fact]
    public void Overlapping_leases_for_one_ip_resolve_to_the_latest_from()
    {
        // A completed Job pod keeps its address in the API (open lease) while a newer pod already uses it.
        var result = Parse("""
            {"ip":"10.0.0.9","from":"2026-11-01T00:00:00Z","kind":"pod","namespace":"a","workload":"stale-job"}
            {"ip":"10.0.0.9","from":"2026-11-01T06:00:00Z","to":"2026-11-01T08:00:00Z","kind":"pod","namespace":"a","workload":"newer"}
            """);

        Assert.Equal("a/stale-job", result.Index.Lookup(Ip("10.0.0.9"), Nov1.AddHours(5))?.ToString());
        Assert.Equal("a/newer", result.Index.Lookup(Ip("10.0.0.9"), Nov1.AddHours(6))?.ToString());
        Assert.Equal("a/newer", result.Index.Lookup(Ip("10.0.0.9"), Nov1.AddHours(8).AddTicks(-1))?.ToString());
        // Once the newer lease ends, the older lease that still covers the time applies again.
        Assert.Equal("a/stale-job", result.Index.Lookup(Ip("10.0.0.9"), Nov1.AddHours(9))?.ToString());
    }

    [Fact]
    public void Cidr_leases_match_by_longest_prefix_and_single_addresses_win()
    {
        var result = Parse("""
            {"cidr":"203.0.113.0/24","kind":"external","workload":"partner-net"}
            {"cidr":"203.0.113.128/25","kind":"external","workload":"partner-api"}
            {"ip":"203.0.113.200","from":"2026-11-01T00:00:00Z","kind":"external","workload":"partner-gateway"}
            {"cidr":"2001:db8::/32","kind":"external","workload":"v6-partner"}
            {"cidr":"::/0","kind":"external","workload":"any-v6"}
            """);

        Assert.Empty(result.Errors);
        Assert.Equal("partner-net", result.Index.Lookup(Ip("203.0.113.5"), Nov1)?.Workload);
        Assert.Equal("partner-api", result.Index.Lookup(Ip("203.0.113.129"), Nov1)?.Workload);
        Assert.Equal("partner-gateway", result.Index.Lookup(Ip("203.0.113.200"), Nov1)?.Workload);
        Assert.Equal("partner-api", result.Index.Lookup(Ip("203.0.113.200"), Nov1.AddDays(-1))?.Workload); // before its lease
        Assert.Equal(EndpointKind.External, result.Index.Lookup(Ip("203.0.113.5"), Nov1)?.Kind);
        Assert.Equal("v6-partner", result.Index.Lookup(Ip("2001:db8:1::5"), Nov1)?.Workload);
        Assert.Equal("any-v6", result.Index.Lookup(Ip("2a00:1450::1"), Nov1)?.Workload);
        Assert.Null(result.Index.Lookup(Ip("198.51.100.1"), Nov1)); // IPv4 is not swallowed by ::/0
        Assert.Equal(4, result.Index.NetworkCount);
    }

    [Fact]
    public void Bad_lease_lines_are_reported_with_file_and_line_and_the_rest_loads()
    {
        var result = Parse("""
            {"ip":"10.0.0.1","from":"2026-11-01T00:00:00Z","kind":"pod","namespace":"a","workload":"good"}
            {"ip":"10.0.0.300","kind":"pod","workload":"x"}
            not json

            {"ip":"10.0.0.2","kind":"vm","workload":"x"}
            {"ip":"10.0.0.3","from":"yesterday","kind":"pod","workload":"x"}
            {"ip":"10.0.0.4","from":"2026-11-02T00:00:00Z","to":"2026-11-01T00:00:00Z","kind":"pod","workload":"x"}
            {"kind":"pod","workload":"x"}
            {"ip":"10.0.0.5","kind":"pod"}
            {"ip":"10.0.0.6","kind":"pod","workload":"x","ports":[{"port":70000}]}
            {"ip":"10.0.0.7","from":"2026-11-01T00:00:00Z","kind":"pod","namespace":"a","workload":"also-good"}
            """, "inv/leases.jsonl");

        Assert.Equal(2, result.Index.LeaseCount);
        Assert.Equal("a/also-good", result.Index.Lookup(Ip("10.0.0.7"), Nov1)?.ToString());
        var errors = result.Errors.Select(e => e.ToString()).ToArray();
        Assert.Equal(8, errors.Length);
        Assert.StartsWith("inv/leases.jsonl:2: \"ip\" '10.0.0.300' is not an IP address", errors[0]);
        Assert.StartsWith("inv/leases.jsonl:3: invalid JSON", errors[1]);
        Assert.StartsWith("inv/leases.jsonl:5: \"kind\" 'vm' is not one of pod, node, service, external", errors[2]);
        Assert.StartsWith("inv/leases.jsonl:6: \"from\" must be an RFC 3339 time", errors[3]);
        Assert.StartsWith("inv/leases.jsonl:7: \"to\" must be after \"from\"", errors[4]);
        Assert.StartsWith("inv/leases.jsonl:8: a lease needs \"ip\" or \"cidr\"", errors[5]);
        Assert.StartsWith("inv/leases.jsonl:9: a lease needs \"workload\" or \"name\"", errors[6]);
        Assert.StartsWith("inv/leases.jsonl:10: each \"ports\" entry needs \"port\" between 1 and 65535", errors[7]);
    }

    [Fact]
    public void Declared_lease_ports_answer_serves_as_of_the_time()
    {
        var result = Parse("""
            {"ip":"10.244.1.7","from":"2026-11-01T00:00:00Z","to":"2026-11-02T00:00:00Z","kind":"pod","namespace":"shop","workload":"cart","ports":[{"port":8080,"protocol":"TCP","name":"http"},{"port":53,"protocol":"UDP"},{"port":9000}]}
            """);
        var ip = Ip("10.244.1.7");

        Assert.True(result.Index.Serves(ip, 8080, IpProtocols.Tcp, Nov1));
        Assert.True(result.Index.Serves(ip, 53, IpProtocols.Udp, Nov1));
        Assert.True(result.Index.Serves(ip, 9000, IpProtocols.Tcp, Nov1)); // protocol defaults to TCP
        Assert.False(result.Index.Serves(ip, 53, IpProtocols.Tcp, Nov1));
        Assert.False(result.Index.Serves(ip, 8080, IpProtocols.Tcp, Nov1.AddDays(2))); // lease over
    }

    [Fact]
    public void Identities_are_interned_across_leases_and_files()
    {
        using var files = new InventoryTestFiles();
        const string lease = """{"ip":"IP","from":"2026-11-01T00:00:00Z","kind":"pod","namespace":"shop","workload":"cart","workload_kind":"Deployment","name":"cart-1","labels":{"app":"cart"}}""";
        files.Write("a.jsonl", lease.Replace("IP", "10.0.0.1") + "\n" + lease.Replace("IP", "fd00::1"));
        files.Write("b.jsonl", lease.Replace("IP", "10.0.0.2"));

        var result = InventoryLoader.Load([files.Directory]);

        var a = result.Index.Lookup(Ip("10.0.0.1"), Nov1);
        Assert.NotNull(a);
        Assert.Same(a, result.Index.Lookup(Ip("fd00::1"), Nov1));
        Assert.Same(a, result.Index.Lookup(Ip("10.0.0.2"), Nov1));
        Assert.Equal(1, result.Index.IdentityCount);
        Assert.Equal(2, result.FileCount);
    }

    [Fact]
    public void Gzipped_files_are_detected_by_their_magic_bytes()
    {
        using var files = new InventoryTestFiles();
        var leases = files.WriteGzip("leases.data", """{"ip":"10.1.1.1","kind":"node","workload":"node-1","workload_kind":"Node"}""" + "\n");
        var pods = files.WriteGzip("pods.json.gz", KubectlFixtures.Pods);

        var result = InventoryLoader.Load([leases, pods]);

        Assert.Empty(result.Errors);
        Assert.Equal("node:node-1", result.Index.Lookup(Ip("10.1.1.1"), Nov1)?.ToString());
        Assert.Equal("shop/cartservice", result.Index.Lookup(Ip("10.244.1.7"), Nov1.AddDays(1))?.ToString());
    }

    [Fact]
    public void Missing_and_foreign_files_are_reported_not_fatal()
    {
        using var files = new InventoryTestFiles();
        var csv = files.Write("hosts.csv", "ip,name\n10.0.0.1,a\n");
        var good = files.Write("good.jsonl", """{"ip":"10.0.0.2","kind":"pod","namespace":"a","workload":"b"}""");

        var result = InventoryLoader.Load([csv, Path.Combine(files.Directory, "nope.json"), good]);

        Assert.Equal(1, result.Index.LeaseCount);
        Assert.Contains(result.Errors, e => e.Source == csv && e.Reason.StartsWith("not an inventory file", StringComparison.Ordinal));
        Assert.Contains(result.Errors, e => e.Source.EndsWith("nope.json", StringComparison.Ordinal) && e.Reason == "no such file or directory");
    }

    [Fact]
    public void Lookups_on_a_hundred_thousand_leases_find_each_lease_by_address_and_time()
    {
        // 100k addresses with one lease each, plus one address reused by 20k short-lived pods: with a linear scan
        // this would be billions of comparisons; the index answers each lookup by hash + binary search.
        var builder = new StringBuilder();
        for (int i = 0; i < 100_000; i++)
            builder.Append("{\"ip\":\"10.").Append(i >> 16).Append('.').Append((i >> 8) & 255).Append('.').Append(i & 255)
                .Append("\",\"from\":\"2026-11-01T00:00:00Z\",\"kind\":\"pod\",\"namespace\":\"ns").Append(i % 50)
                .Append("\",\"workload\":\"w").Append(i % 1000).Append("\"}\n");
        for (int i = 0; i < 20_000; i++)
            builder.Append("{\"ip\":\"10.200.0.1\",\"from\":\"").Append(Nov1.AddMinutes(i).ToString("yyyy-MM-ddTHH:mm:ssZ"))
                .Append("\",\"to\":\"").Append(Nov1.AddMinutes(i + 1).ToString("yyyy-MM-ddTHH:mm:ssZ"))
                .Append("\",\"kind\":\"pod\",\"namespace\":\"churn\",\"workload\":\"job").Append(i).Append("\"}\n");

        var result = Parse(builder.ToString());

        Assert.Empty(result.Errors);
        Assert.Equal(120_000, result.Index.LeaseCount);
        for (int i = 0; i < 100_000; i++)
        {
            var ip = PackedIp.FromV4(10, (byte)(i >> 16), (byte)((i >> 8) & 255), (byte)(i & 255));
            Assert.Equal("w" + (i % 1000), result.Index.Lookup(ip, Nov1.AddHours(1))?.Workload);
        }
        var churn = Ip("10.200.0.1");
        for (int i = 0; i < 20_000; i++)
            Assert.Equal("job" + i, result.Index.Lookup(churn, Nov1.AddMinutes(i).AddSeconds(30))?.Workload);
        Assert.Null(result.Index.Lookup(churn, Nov1.AddMinutes(20_000)));
        Assert.Equal(1000 + 20_000, result.Index.IdentityCount);
    }
}

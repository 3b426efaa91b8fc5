using System.Text.Json;
using FlowPolicy.Analytics.Baseline;
using FlowPolicy.Analytics.Intent;
using FlowPolicy.Core.Edges;
using FlowPolicy.Core.Flows;
using FlowPolicy.Core.Net;
using FlowPolicy.Suggest.Inference;
using FlowPolicy.Suggest.Reports;

namespace FlowPolicy.Tests.Suggest;

/// <summary>
/// Recurrence and noise on a hand-made 14-day cluster (Monday 2 to Sunday 15 November 2026): shop (frontend, cart,
/// search, postgres, catalog) talks to kube-system DNS and to payments every day; tenants a and b each have a web and a
/// db that only talk inside their tenant. Each test adds the traffic it is about and checks the one decision it proves.
/// </summary>
public sealed class BaselineNoiseTests : IDisposable
{
    private const int WindowDays = 14;
    private static readonly DateTime Start = new(2026, 11, 2, 0, 0, 0, DateTimeKind.Utc);
    private static readonly int[] EveryDay = Enumerable.Range(0, WindowDays).ToArray();

    private readonly string _dir = Directory.CreateTempSubdirectory("flowpolicy-noise-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static readonly Endpoint Frontend = Pod("shop", "frontend");
    private static readonly Endpoint Cart = Pod("shop", "cart");
    private static readonly Endpoint Search = Pod("shop", "search");
    private static readonly Endpoint Postgres = Pod("shop", "postgres");
    private static readonly Endpoint Catalog = Pod("shop", "catalog");
    private static readonly Endpoint Dns = Pod("kube-system", "coredns");
    private static readonly Endpoint Payments = Pod("payments", "api");
    private static readonly Endpoint AWeb = Pod("tenants", "a-web", kind: "Deployment", ("app", "web"), ("tenant", "a"));
    private static readonly Endpoint ADb = Pod("tenants", "a-db", kind: "StatefulSet", ("app", "db"), ("tenant", "a"));
    private static readonly Endpoint BWeb = Pod("tenants", "b-web", kind: "Deployment", ("app", "web"), ("tenant", "b"));
    private static readonly Endpoint BDb = Pod("tenants", "b-db", kind: "StatefulSet", ("app", "db"), ("tenant", "b"));

    /// <summary>The everyday traffic every test starts from: it sets which boundaries the cluster respects.</summary>
    private static List<Edge> Background() =>
    [
        E(Frontend, Cart, 7070, EveryDay),
        E(Cart, Postgres, 5432, EveryDay),
        E(Catalog, Postgres, 5432, EveryDay),
        E(Frontend, Dns, 53, EveryDay, protocol: IpProtocols.Udp),
        E(Catalog, Dns, 53, EveryDay, protocol: IpProtocols.Udp),
        E(Cart, Payments, 8443, EveryDay),
        E(AWeb, ADb, 5432, EveryDay),
        E(BWeb, BDb, 5432, EveryDay),
    ];

    private static SuggestionSet Infer(IEnumerable<Edge> extra) =>
        new RuleInference(new SuggestOptions { WindowStart = Start, WindowEnd = Start.AddDays(WindowDays) }).Infer([.. Background(), .. extra]);

    private static SuggestedRule Rule(SuggestionSet set, string text) => Assert.Single(set.Rules, r => r.ToString() == text);

    private static LeftOutEdge LeftOut(SuggestionSet set, Endpoint client, Endpoint server, ushort port) =>
        Assert.Single(set.LeftOut, l => l.Edge.Client.Key == client.Key && l.Edge.Server.Key == server.Key && l.Edge.Port == port);

    [Fact]
    public void A_single_occurrence_is_seen_once_never_periodic_even_over_consecutive_days()
    {
        var window = new BaselineWindow(Start, Start.AddDays(35));
        var classifier = new PeriodicityClassifier(new BaselineOptions(), window);
        // One Sunday run in 35 days: the old rule called this "weekly job, 1 run(s)".
        var once = classifier.Classify([Day(6)], 12, 1, Hours((6, 2)), clientAlwaysUp: false);
        Assert.Equal(PeriodicityPattern.SeenOnce, once.Pattern);
        Assert.Null(once.PeriodDays);
        Assert.Equal(1, once.Occurrences);
        // A burst over three consecutive days is still one occurrence.
        var burst = classifier.Classify([Day(10), Day(11), Day(12)], 40, 1, Hours((3, 9), (4, 9), (5, 9)), clientAlwaysUp: true);
        Assert.Equal(PeriodicityPattern.SeenOnce, burst.Pattern);
        Assert.Equal("seen-once", burst.PatternName);
    }

    [Fact]
    public void A_weekly_period_needs_two_runs_a_week_apart_and_none_missing()
    {
        var window = new BaselineWindow(Start, Start.AddDays(WindowDays));
        var classifier = new PeriodicityClassifier(new BaselineOptions(), window);
        var weekly = classifier.Classify([Day(6), Day(13)], 24, 2, Hours((6, 2)), clientAlwaysUp: false);
        Assert.Equal(PeriodicityPattern.Weekly, weekly.Pattern);
        Assert.Equal(7, weekly.PeriodDays);
        Assert.Equal(2, weekly.Occurrences);
        Assert.Contains("Sunday", weekly.Note);

        // Two Sundays, then three weeks of silence in a 35-day window: a run is missing, so no period.
        var stopped = new PeriodicityClassifier(new BaselineOptions(), new BaselineWindow(Start, Start.AddDays(35)))
            .Classify([Day(6), Day(13)], 24, 2, Hours((6, 2)), clientAlwaysUp: false);
        Assert.Null(stopped.PeriodDays);
        Assert.Equal(PeriodicityPattern.Rare, stopped.Pattern);

        // Every three days over the window: a period too, of 3 days.
        var everyThird = classifier.Classify([Day(0), Day(3), Day(6), Day(9), Day(12)], 50, 1, Hours((0, 4), (3, 4), (6, 4)), clientAlwaysUp: false);
        Assert.Equal(PeriodicityPattern.EveryNDays, everyThird.Pattern);
        Assert.Equal(3, everyThird.PeriodDays);

        // Inference keeps the weekly rule as periodic.
        var set = Infer([E(Pod("shop", "reporter"), Postgres, 5432, [6, 13], flowsPerDay: 12, hour: 2)]);
        var rule = Rule(set, "shop/reporter -> shop/postgres:5432/TCP");
        Assert.Equal("weekly", rule.Periodicity.PatternName);
        Assert.Contains("periodic", rule.Flags);
        Assert.Equal(RuleConfidence.Medium, rule.Confidence);
    }

    [Fact]
    public void A_job_every_day_in_the_same_hour_is_daily()
    {
        var set = Infer([E(Pod("shop", "exporter"), Search, 9200, EveryDay, flowsPerDay: 3, hour: 4)]);
        var rule = Rule(set, "shop/exporter -> shop/search:9200/TCP");
        Assert.Equal(PeriodicityPattern.Daily, rule.Periodicity.Pattern);
        Assert.Equal(1, rule.Periodicity.PeriodDays);
        Assert.Contains("periodic", rule.Flags);
    }

    [Fact]
    public void A_startup_only_dependency_made_at_each_rollout_is_kept_even_across_namespaces()
    {
        var licensing = Pod("licensing", "server");
        // Three catalog pods (two rollouts) each check their licence once: start-up evidence, kept.
        var startup = E(Catalog, licensing, 8443, [0, 5], flowsPerDay: 1, replicas: 3);
        startup.Flows = 3;
        var set = Infer([startup]);
        var rule = Rule(set, "shop/catalog -> licensing/server:8443/TCP");
        Assert.Equal(PeriodicityPattern.StartupOnly, rule.Periodicity.Pattern);
        Assert.Contains("startup-only", rule.Flags);
        Assert.DoesNotContain(set.LeftOut, l => l.Edge == startup);

        // One call from one pod is no start-up evidence: seen once, and across namespaces that never talk, left out.
        var once = E(Catalog, licensing, 8443, [5], flowsPerDay: 1, replicas: 1);
        var single = Infer([once]);
        Assert.Equal(LeaveOutReason.OneOffCrossing, LeftOut(single, Catalog, licensing, 8443).Reason);
    }

    [Fact]
    public void A_cronjob_client_seen_once_is_kept_as_a_scheduled_job_with_a_warning()
    {
        var report = Pod("batch", "weekly-report", kind: "CronJob", ("app", "weekly-report"));
        var set = Infer([E(report, Postgres, 5432, [6], flowsPerDay: 12, hour: 2)]);
        var rule = Rule(set, "batch/weekly-report -> shop/postgres:5432/TCP");
        Assert.Equal(PeriodicityPattern.SeenOnce, rule.Periodicity.Pattern);
        Assert.Equal(RuleFlags.ScheduledJob, rule.FlagSet);
        Assert.Equal(["scheduled-job"], rule.Flags);
        Assert.Equal(RuleConfidence.Medium, rule.Confidence);
        Assert.Contains(set.Warnings, w => w.Contains(rule.Id) && w.Contains("CronJob/Job client") && w.Contains("schedule is not confirmed"));
        Assert.Empty(set.LeftOut);
    }

    [Fact]
    public void A_rare_edge_of_a_long_running_workload_inside_the_boundaries_is_kept_flagged_rare_confirm()
    {
        var set = Infer([E(Frontend, Search, 9200, [9], flowsPerDay: 5, replicas: 1)]);
        var rule = Rule(set, "shop/frontend -> shop/search:9200/TCP");
        Assert.Equal("seen-once", rule.Periodicity.PatternName);
        Assert.Contains("rare", rule.Flags);
        Assert.Equal("low", rule.ConfidenceName);
        Assert.StartsWith("rare: confirm", rule.ConfidenceReason, StringComparison.Ordinal);
        // A one-off into a namespace pair that does talk every day is inside the boundaries too.
        var toPayments = Rule(Infer([E(Frontend, Payments, 9000, [3], flowsPerDay: 2, replicas: 1)]), "shop/frontend -> payments/api:9000/TCP");
        Assert.Contains("rare", toPayments.Flags);
    }

    [Fact]
    public void A_one_off_edge_between_namespaces_that_never_talk_is_left_out_and_listed_for_review()
    {
        var payroll = Pod("hr", "payroll");
        var set = Infer([E(Cart, payroll, 8080, [4], flowsPerDay: 3, replicas: 1)]);
        Assert.DoesNotContain(set.Rules, r => r.Server.Key == "hr/payroll");
        var left = LeftOut(set, Cart, payroll, 8080);
        Assert.Equal("one-off-crossing", left.ReasonName);
        Assert.Contains("between namespaces shop and hr, which otherwise never talk", left.Detail);

        var dir = Path.Combine(_dir, "out");
        new SuggestionOutput(new SuggestionOutputOptions { Directory = dir, Formats = ["k8s", "json"] }).Write(set);
        var report = File.ReadAllText(Path.Combine(dir, "report.md"));
        Assert.Contains("### one-off-crossing (1 edges)", report);
        Assert.Contains("`shop/cart` -> hr/payroll:8080/TCP", report);
        using var json = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(dir, "suggestions.json")));
        Assert.Contains(json.RootElement.GetProperty("left_out").EnumerateArray(),
            l => l.GetProperty("reason").GetString() == "one-off-crossing" && l.GetProperty("dst").GetString() == "hr/payroll");
    }

    [Fact]
    public void A_one_off_edge_across_detected_groups_is_left_out_and_the_groups_still_stand()
    {
        var set = Infer([E(AWeb, BDb, 5432, [8], flowsPerDay: 2, replicas: 1)]);
        var group = Assert.Single(set.Groups);
        Assert.Equal(("tenants", "tenant"), (group.Namespace, group.LabelKey));
        var left = LeftOut(set, AWeb, BDb, 5432);
        Assert.Equal(LeaveOutReason.OneOffCrossing, left.Reason);
        Assert.Contains("across the 'tenant' groups of tenants (a -> b)", left.Detail);
        // The same crossing every day is the traffic itself: kept, and the key no longer splits the namespace.
        var daily = Infer([E(AWeb, BDb, 5432, EveryDay)]);
        Assert.Empty(daily.Groups);
        Rule(daily, "tenants/a-web -> tenants/b-db:5432/TCP");
    }

    [Fact]
    public void An_answered_scan_from_a_deployment_pod_is_a_scanner_and_its_real_traffic_is_kept()
    {
        var notebook = Pod("ci", "notebook", kind: "Deployment");
        var git = Pod("ci", "git");
        // Every probe answered (SYN, SYN-ACK, RST: 3 packets, ~150 bytes), nothing denied, one flow per port.
        var probes = Enumerable.Range(0, 20).Select(i => Probe(notebook, Cart, (ushort)(20 + i), at: Start.AddDays(3).AddSeconds(i))).ToList();
        // A horizontal sweep too: port 22 of 20 servers within ten minutes.
        var servers = Enumerable.Range(0, 20).Select(i => Pod("shop", $"svc-{i:D2}")).ToList();
        var sweep = servers.Select((s, i) => Probe(notebook, s, 22, at: Start.AddDays(4).AddSeconds(30 * i))).ToList();
        var real = E(notebook, git, 443, EveryDay, flowsPerDay: 40);
        var set = Infer([.. probes, .. sweep, real]);
        Assert.All(probes.Concat(sweep), p => Assert.Equal(LeaveOutReason.Scanner, Assert.Single(set.LeftOut, l => l.Edge == p).Reason));
        Assert.Contains("scanner: first contact with", LeftOut(set, notebook, Cart, 20).Detail);
        Assert.Contains("0 of 40 probes denied or unanswered", LeftOut(set, notebook, Cart, 20).Detail);
        Rule(set, "ci/notebook -> ci/git:443/TCP");
        Assert.DoesNotContain(set.Rules, r => r.Client.Key == "ci/notebook" && r.Server.Key != "ci/git");

        // Every replica probed, each probe reported by two observers: 6 tiny flows per port within seconds, still a contact.
        var replicated = Enumerable.Range(0, 12).Select(i =>
        {
            var p = Probe(notebook, Payments, (ushort)(1000 + i), at: Start.AddDays(5).AddSeconds(i));
            p.Flows = p.UnknownVerdictFlows = 6;
            p.Bytes = 6 * 150;
            p.Packets = 6 * 3;
            p.LastSeen = p.FirstSeen.AddSeconds(2);
            return p;
        }).ToList();
        var replicatedSet = Infer([.. replicated, real]);
        Assert.All(replicated, p => Assert.Equal(LeaveOutReason.Scanner, Assert.Single(replicatedSet.LeftOut, l => l.Edge == p).Reason));

        // The sweep alone (no port fan-out) convicts as well: 20 servers in ten minutes.
        var sweepOnly = Infer([.. sweep, real]);
        Assert.All(sweep, p => Assert.Equal(LeaveOutReason.Scanner, Assert.Single(sweepOnly.LeftOut, l => l.Edge == p).Reason));
    }

    [Fact]
    public void An_unanswered_slow_scan_from_outside_is_a_scanner()
    {
        var outside = Endpoint.FromAddress(PackedIp.Parse("10.0.9.99"));
        var servers = Enumerable.Range(0, 18).Select(i => Pod("shop", $"svc-{i:D2}")).ToList();
        // One SYN per server, a day apart (no burst), nothing comes back: 1 packet, 60 bytes per flow.
        var probes = servers.Select((s, i) =>
        {
            var p = Probe(outside, s, 3389, at: Start.AddHours(17 * i));
            p.Packets = 1;
            p.Bytes = 60;
            return p;
        }).ToList();
        var set = Infer(probes);
        Assert.All(probes, p => Assert.Equal("scanner", Assert.Single(set.LeftOut, l => l.Edge == p).ReasonName));
        Assert.DoesNotContain(set.Rules, r => r.Client.Key.StartsWith("10.0.9.99", StringComparison.Ordinal));
    }

    [Fact]
    public void Prometheus_mesh_and_dns_fan_out_are_kept()
    {
        var prometheus = Pod("monitoring", "prometheus", kind: "StatefulSet");
        var targets = Enumerable.Range(0, 200).Select(i => Pod("apps", $"app-{i:D3}")).ToList();
        // A scrape every 15 s of each target's metrics port: thousands of flows per target, kilobytes each.
        var scrapes = targets.Select(t => E(prometheus, t, 9090, EveryDay, flowsPerDay: 5760, bytesPerFlow: 24_000, packetsPerFlow: 12)).ToList();
        // Cilium records carry no byte counts: the same scrapes seen by Hubble.
        var hubble = Pod("monitoring", "hubble-scraper", kind: "Deployment");
        var unsized = targets.Take(40).Select(t => E(hubble, t, 9090, EveryDay, flowsPerDay: 288, bytesPerFlow: 0, packetsPerFlow: 2)).ToList();
        // A mesh sidecar talking to 30 services on one port, and 60 clients of DNS.
        var sidecar = Pod("mesh", "gateway");
        var mesh = targets.Take(30).Select(t => E(sidecar, t, 15006, EveryDay, flowsPerDay: 900)).ToList();
        var dns = targets.Take(60).Select(t => E(t, Dns, 53, EveryDay, flowsPerDay: 400, bytesPerFlow: 180, packetsPerFlow: 2, protocol: IpProtocols.Udp)).ToList();
        var set = Infer([.. scrapes, .. unsized, .. mesh, .. dns]);
        Assert.Empty(set.LeftOut);
        Assert.Equal(200, set.Rules.Count(r => r.Client.Key == "monitoring/prometheus"));
        Assert.Equal(40, set.Rules.Count(r => r.Client.Key == "monitoring/hubble-scraper"));
        Assert.Equal(30, set.Rules.Count(r => r.Client.Key == "mesh/gateway"));
        Assert.Equal(62, set.Rules.Count(r => r.Server.Key == "kube-system/coredns"));
    }

    [Fact]
    public void The_backtest_lists_blocked_noise_apart_and_only_strict_fails_on_it()
    {
        var payroll = Pod("hr", "payroll");
        var edges = new List<Edge> { E(Cart, Postgres, 5432, EveryDay), E(Cart, payroll, 8080, [4], flowsPerDay: 3, replicas: 1) };
        var noise = new BaselineClassifier().Classify(edges, new BaselineWindow(Start, Start.AddDays(WindowDays)));
        var onlyPostgres = new AllowOnly("shop/postgres");
        var result = new PolicyBacktest(onlyPostgres).Run(edges, noise);
        Assert.Empty(result.Blocked);
        var blocked = Assert.Single(result.BlockedNoise);
        Assert.Equal(LeaveOutReason.OneOffCrossing, blocked.Noise.Reason);
        Assert.True(result.Passed);
        Assert.False(result.PassedStrict);
        // Without a classification every blocked baseline edge fails, as before.
        Assert.False(new PolicyBacktest(onlyPostgres).Run(edges).Passed);
        Assert.Throws<ArgumentException>(() => new PolicyBacktest(onlyPostgres).Run([.. edges, E(Cart, Search, 80, EveryDay)], noise));
    }

    [Fact]
    public void Check_narrowed_to_some_namespaces_keeps_the_verdicts_judged_over_every_edge()
    {
        var notebook = Pod("ci", "notebook");
        var probes = Enumerable.Range(0, 10).Select(i => Probe(notebook, Pod("shop", $"svc-{i}"), 22, at: Start.AddDays(2).AddSeconds(i)))
            .Concat(Enumerable.Range(0, 10).Select(i => Probe(notebook, Pod("lab", $"svc-{i}"), 22, at: Start.AddDays(2).AddSeconds(20 + i)))).ToList();
        var window = new BaselineWindow(Start, Start.AddDays(WindowDays));
        var all = new BaselineClassifier().Classify(probes, window);
        Assert.All(all.Verdicts, v => Assert.Equal(LeaveOutReason.Scanner, v!.Value.Reason));
        // Ten servers alone are no sweep: classified after narrowing, the scan would be missed.
        var lab = probes.Where(p => p.Server.Namespace == "lab").ToList();
        Assert.All(new BaselineClassifier().Classify(lab, window).Verdicts, v => Assert.NotEqual(LeaveOutReason.Scanner, v?.Reason));
        var (edges, narrowed) = all.Restrict(probes, e => e.Server.Namespace == "lab");
        Assert.Equal(lab, edges);
        Assert.All(narrowed.Verdicts, v => Assert.Equal(LeaveOutReason.Scanner, v!.Value.Reason));
        Assert.Equal(10, narrowed.NoiseEdges);
    }

    private sealed class AllowOnly(string server) : IIntentEvaluator
    {
        private static readonly IntentRule Allow = new("test/allow", "ingress[0]", "NetworkPolicy");

        public IReadOnlyList<IntentRule> Rules => [Allow];

        public IntentDecision Evaluate(Endpoint client, Endpoint serverEndpoint, ushort port, byte protocol) =>
            serverEndpoint.Key == server ? new IntentDecision(true, [Allow], "allowed") : new IntentDecision(false, [], "no rule allows it");
    }

    private static DateOnly Day(int day) => DateOnly.FromDateTime(Start.AddDays(day));

    private static long[] Hours(params (int Day, int Hour)[] at)
    {
        var hours = new long[Edge.HoursPerWeek];
        foreach (var (day, hour) in at) hours[Edge.HourOfWeekOf(Start.AddDays(day).AddHours(hour))] += 1;
        return hours;
    }

    private static Endpoint Pod(string ns, string name, string kind = "Deployment", params (string Key, string Value)[] labels) =>
        Endpoint.FromIdentity(new WorkloadIdentity(EndpointKind.Pod, ns, name, kind,
            labels: (labels.Length == 0 ? [("app", name)] : labels).Select(l => KeyValuePair.Create(l.Key, l.Value))));

    /// <summary>An edge seen on the given days of the window, <paramref name="flowsPerDay"/> flows each day at one hour.</summary>
    private static Edge E(Endpoint client, Endpoint server, ushort port, int[] days, long flowsPerDay = 200, int hour = -1,
        long bytesPerFlow = 4_000, long packetsPerFlow = 10, int replicas = 2, byte protocol = IpProtocols.Tcp)
    {
        var edge = new Edge(client, server, port, protocol);
        foreach (var day in days)
        {
            if (hour >= 0) edge.HourOfWeek[Edge.HourOfWeekOf(Start.AddDays(day).AddHours(hour))] += flowsPerDay;
            else
                for (int h = 0; h < 24; h++) edge.HourOfWeek[Edge.HourOfWeekOf(Start.AddDays(day).AddHours(h))] += Math.Max(1, flowsPerDay / 24);
        }
        edge.Flows = flowsPerDay * days.Length;
        edge.AllowedFlows = edge.Flows;
        edge.Bytes = (ulong)(bytesPerFlow * edge.Flows);
        edge.Packets = (ulong)(packetsPerFlow * edge.Flows);
        edge.FirstSeen = Start.AddDays(days[0]).AddHours(Math.Max(hour, 0));
        edge.LastSeen = Start.AddDays(days[^1]).AddHours(hour >= 0 ? hour : 23).AddMinutes(30);
        edge.Days = days.Select(Day).ToList();
        edge.ClientReplicas = replicas;
        return edge;
    }

    /// <summary>One answered probe: a flow of 3 packets and 150 bytes (SYN, SYN-ACK, RST), no verdict in the log.</summary>
    private static Edge Probe(Endpoint client, Endpoint server, ushort port, DateTime at)
    {
        var edge = new Edge(client, server, port, IpProtocols.Tcp)
        {
            Flows = 1, UnknownVerdictFlows = 1, Bytes = 150, Packets = 3, FirstSeen = at, LastSeen = at.AddMilliseconds(20),
            Days = [DateOnly.FromDateTime(at)], ClientReplicas = 1,
        };
        edge.HourOfWeek[Edge.HourOfWeekOf(at)] += 1;
        return edge;
    }
}

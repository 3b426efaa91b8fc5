using System.Net;
using static FlowPolicy.Tests.Evaluation.Scenarios.ScenarioBuilder;

namespace FlowPolicy.Tests.Evaluation.Scenarios;

/// <summary>
/// Bank of Anthos. Workloads, ports and the call graph derived from GoogleCloudPlatform/bank-of-anthos
/// kubernetes-manifests/: config.yaml @ 01dd296a30b227ce3084630ef060e47bda11237c (service-api-config: frontend calls
/// ledgerwriter, balancereader, transactionhistory, contacts, userservice on 8080; ledgerwriter calls balancereader),
/// frontend.yaml @ 01ba8abcfcee6a10d03ac3d3d3bca3c885ffd443, accounts-db.yaml @ 00a820fc706f3e9ceec96949d224b86ba9be43df and
/// ledger-writer.yaml @ 0182e6ae7f43d0b45d394feeb89a440bff3443e9 (the StatefulSet databases on 5432, the labels `app`,
/// `application`, `environment`, `team`, `tier`; userservice and contacts use accounts-db, the ledger services
/// ledger-db). Added by us as traps: Istio's `version` pod label bumped at every rollout, the weekly backup CronJob to
/// an object store, the start-up-only fraud-rules fetch, a staging namespace and the noise.
/// </summary>
internal static class BankOfAnthos
{
    public static Scenario Create()
    {
        const string ns = "bank", staging = "bank-staging";
        (string, string)[] Labels(string app, string team, string tier) =>
            [("app", app), ("application", "bank-of-anthos"), ("environment", "development"), ("team", team), ("tier", tier)];
        // Each Deployment's pods carry Istio's `version` label, bumped at every rollout.
        ScenarioWorkload Versioned(ScenarioWorkload w) => w with { Labels = new Dictionary<string, string>(w.Labels) { ["version"] = "v1.0.0" }, ReleaseLabel = "version" };
        ScenarioWorkload Svc(string name, string team, int replicas = 1, int rollout = 6, string space = ns) =>
            Versioned(Deployment(space, name, replicas, rollout, "bank-of-anthos", [Tcp(8080, "http")], Labels(name, team, "backend")));
        var workloads = new List<ScenarioWorkload>
        {
            Versioned(Deployment(ns, "frontend", 2, 5, "bank-of-anthos", [Tcp(8080, "http")], Labels("frontend", "frontend", "web"))),
            Svc("userservice", "accounts"),
            Svc("contacts", "accounts"),
            Svc("balancereader", "ledger", replicas: 2, rollout: 8),
            Svc("ledgerwriter", "ledger", rollout: 7),
            Svc("transactionhistory", "ledger"),
            StatefulSet(ns, "accounts-db", 1, "bank-of-anthos", [Tcp(5432, "tcp")], Labels("accounts-db", "accounts", "db")),
            StatefulSet(ns, "ledger-db", 1, "bank-of-anthos", [Tcp(5432, "tcp")], Labels("ledger-db", "ledger", "db")),
            Deployment(ns, "loadgenerator", 1, 0, "bank-of-anthos", [], Labels("loadgenerator", "loadgenerator", "test")),
            CronJob(ns, "ledger-backup", CronSchedule.Weekly, 2, "bank-of-anthos", Labels("ledger-backup", "ledger", "batch")),
            Deployment(staging, "frontend", 1, 0, "bank-of-anthos", [Tcp(8080, "http")], Labels("frontend", "frontend", "web")),
            Svc("userservice", "accounts", rollout: 0, space: staging),
        };
        string W(string name) => ns + "/" + name;
        ScenarioCall Call(string client, string server, ushort port, double perHour) => new(W(client), CallTarget.Workload(W(server)), port, Protocol.Tcp, perHour);
        var calls = new List<ScenarioCall>
        {
            Call("frontend", "userservice", 8080, 1),
            Call("frontend", "contacts", 8080, 0.6),
            Call("frontend", "balancereader", 8080, 1.5),
            Call("frontend", "ledgerwriter", 8080, 0.5),
            Call("frontend", "transactionhistory", 8080, 1),
            Call("userservice", "accounts-db", 5432, 1),
            Call("contacts", "accounts-db", 5432, 0.6),
            Call("ledgerwriter", "balancereader", 8080, 0.5),
            Call("ledgerwriter", "ledger-db", 5432, 0.5),
            Call("balancereader", "ledger-db", 5432, 1),
            Call("transactionhistory", "ledger-db", 5432, 1),
            Call("loadgenerator", "frontend", 8080, 1),
            new(W("contacts"), CallTarget.External("fraud-rules"), 443, Protocol.Tcp, 0, CallPattern.StartupOnly),
            Call("ledger-backup", "ledger-db", 5432, 0),
            new(W("ledger-backup"), CallTarget.External("backup-bucket"), 443, Protocol.Tcp, 0),
            new(staging + "/frontend", CallTarget.Workload(staging + "/userservice"), 8080, Protocol.Tcp, 0.5),
        };
        return Complete(new AppPart
        {
            Name = "bank-of-anthos",
            DerivedFrom = "GoogleCloudPlatform/bank-of-anthos kubernetes-manifests/ (config.yaml @ 01dd296a, frontend.yaml @ 01ba8abc, accounts-db.yaml @ 00a820fc, ledger-writer.yaml @ 0182e6ae)",
            Days = 35,
            Seed = 1602,
            Namespaces = new Dictionary<string, IReadOnlyDictionary<string, string>>
            {
                [ns] = NamespaceLabels(ns, ("team", "bank"), ("env", "prod")),
                [staging] = NamespaceLabels(staging, ("team", "bank"), ("env", "staging")),
            },
            Workloads = workloads,
            Calls = calls,
            Externals =
            [
                // An object store answering on rotating addresses of one network.
                new("backup-bucket", Enumerable.Range(16, 5).Select(i => IPAddress.Parse($"52.216.8.{i}")).ToList()),
                new("fraud-rules", [IPAddress.Parse("198.51.100.90")]),
            ],
            FrontDoor = (W("frontend"), 8080),
            InternetPerHour = 2,
            Scraped = [(W("ledgerwriter"), 8080), (W("balancereader"), 8080)],
            DebugPod = (ns, [(W("ledger-db"), 5432)]),
            CrossBoundary = (staging + "/userservice", W("accounts-db"), 5432),
        });
    }
}

using System.Net;
using static FlowPolicy.Tests.Evaluation.Scenarios.ScenarioBuilder;

namespace FlowPolicy.Tests.Evaluation.Scenarios;

/// <summary>
/// Online Boutique. Workloads, ports, labels (`app: NAME`) and the call graph (the `*_SERVICE_ADDR` and `REDIS_ADDR`
/// env vars) derived from GoogleCloudPlatform/microservices-demo release/kubernetes-manifests.yaml at commit
/// 04269534755094c0aa3cdacae7445c0afd12fd73; emailservice's Service maps 5000 to the pod's 8080, so flows (after the
/// Service's DNAT) go to 8080, as the frontend's 80 goes to 8080. Added by us as traps: the payment gateway SaaS, the
/// start-up-only feature-flag fetch, the daily catalog-sync CronJob, a staging namespace and the noise.
/// </summary>
internal static class OnlineBoutique
{
    public static Scenario Create()
    {
        const string ns = "boutique", staging = "boutique-staging";
        ScenarioWorkload Svc(string name, ushort port, int replicas = 1, int rollout = 5, string space = ns) =>
            Deployment(space, name, replicas, rollout, name, [Tcp(port, "grpc")], ("app", name));
        var workloads = new List<ScenarioWorkload>
        {
            Svc("emailservice", 8080),
            Svc("checkoutservice", 5050),
            Svc("recommendationservice", 8080),
            Deployment(ns, "frontend", 3, 4, "frontend", [Tcp(8080, "http")], ("app", "frontend")),
            Svc("paymentservice", 50051),
            Svc("productcatalogservice", 3550, replicas: 2, rollout: 6),
            Svc("cartservice", 7070, replicas: 2, rollout: 3),
            Deployment(ns, "loadgenerator", 1, 0, "loadgenerator", [], ("app", "loadgenerator")),
            Svc("currencyservice", 7000),
            Svc("shippingservice", 50051),
            Deployment(ns, "redis-cart", 1, 0, "redis-cart", [Tcp(6379, "redis")], ("app", "redis-cart")),
            Svc("adservice", 9555),
            CronJob(ns, "catalog-sync", CronSchedule.Daily, 3, "catalog-sync", ("app", "catalog-sync")),
            Deployment(staging, "frontend", 1, 0, "frontend", [Tcp(8080, "http")], ("app", "frontend")),
            Svc("productcatalogservice", 3550, rollout: 0, space: staging),
        };
        string W(string name) => ns + "/" + name;
        ScenarioCall Call(string client, string server, ushort port, double perHour) => new(W(client), CallTarget.Workload(W(server)), port, Protocol.Tcp, perHour);
        var calls = new List<ScenarioCall>
        {
            Call("frontend", "productcatalogservice", 3550, 2),
            Call("frontend", "currencyservice", 7000, 2),
            Call("frontend", "cartservice", 7070, 1.5),
            Call("frontend", "recommendationservice", 8080, 1),
            Call("frontend", "shippingservice", 50051, 0.5),
            Call("frontend", "checkoutservice", 5050, 0.4),
            Call("frontend", "adservice", 9555, 1),
            Call("checkoutservice", "productcatalogservice", 3550, 0.4),
            Call("checkoutservice", "shippingservice", 50051, 0.4),
            Call("checkoutservice", "paymentservice", 50051, 0.4),
            Call("checkoutservice", "emailservice", 8080, 0.4),
            Call("checkoutservice", "currencyservice", 7000, 0.4),
            Call("checkoutservice", "cartservice", 7070, 0.4),
            Call("recommendationservice", "productcatalogservice", 3550, 1),
            Call("cartservice", "redis-cart", 6379, 2),
            Call("loadgenerator", "frontend", 8080, 1),
            new(W("paymentservice"), CallTarget.External("payment-gateway"), 443, Protocol.Tcp, 0.4),
            new(W("frontend"), CallTarget.External("feature-flags"), 443, Protocol.Tcp, 0, CallPattern.StartupOnly),
            Call("catalog-sync", "productcatalogservice", 3550, 0),
            new(W("catalog-sync"), CallTarget.External("supplier-feed"), 443, Protocol.Tcp, 0),
            new(staging + "/frontend", CallTarget.Workload(staging + "/productcatalogservice"), 3550, Protocol.Tcp, 0.5),
        };
        return Complete(new AppPart
        {
            Name = "online-boutique",
            DerivedFrom = "GoogleCloudPlatform/microservices-demo release/kubernetes-manifests.yaml @ 04269534755094c0aa3cdacae7445c0afd12fd73",
            Days = 14,
            Seed = 1601,
            Namespaces = new Dictionary<string, IReadOnlyDictionary<string, string>>
            {
                [ns] = NamespaceLabels(ns, ("team", "shop"), ("env", "prod")),
                [staging] = NamespaceLabels(staging, ("team", "shop"), ("env", "staging")),
            },
            Workloads = workloads,
            Calls = calls,
            Externals =
            [
                new("payment-gateway", [IPAddress.Parse("203.0.113.10"), IPAddress.Parse("203.0.113.11"), IPAddress.Parse("203.0.113.12"), IPAddress.Parse("203.0.113.13")]),
                new("feature-flags", [IPAddress.Parse("198.51.100.40"), IPAddress.Parse("198.51.100.41")]),
                new("supplier-feed", [IPAddress.Parse("192.0.2.80")]),
            ],
            FrontDoor = (W("frontend"), 8080),
            InternetPerHour = 3,
            Scraped = [(W("frontend"), 8080)],
            DebugPod = (ns, [(W("redis-cart"), 6379), (W("cartservice"), 7070)]),
            CrossBoundary = (staging + "/frontend", W("productcatalogservice"), 3550),
        });
    }
}

using System.Net;
using static FlowPolicy.Tests.Evaluation.Scenarios.ScenarioBuilder;

namespace FlowPolicy.Tests.Evaluation.Scenarios;

/// <summary>
/// Sock Shop. Workloads, ports and labels (`name: NAME`) derived from microservices-demo/microservices-demo
/// deploy/kubernetes/complete-demo.yaml at commit 039118198a49aee0da731472aa73c2983fb72757 (front-end on 8079, the
/// services on 80, mongo 27017, mysql 3306, rabbitmq 5672, zipkin 9411 named by the ZIPKIN env vars, user-db by
/// MONGO_HOST); the rest of the call graph (front-end to catalogue, cart, orders, user; orders to payment, user, cart,
/// shipping and orders-db; shipping and queue-master to rabbitmq) is the application's documented architecture.
/// Prometheus scrapes the services annotated `prometheus.io/path`. Added by us as traps: the daily orders-report
/// CronJob and its mail SaaS, the start-up-only image CDN fetch, a dev namespace and the noise.
/// </summary>
internal static class SockShop
{
    public static Scenario Create()
    {
        const string ns = "sock-shop", dev = "sock-shop-dev";
        ScenarioWorkload Svc(string name, ushort port, int rollout = 0, string space = ns, int replicas = 1) =>
            Deployment(space, name, replicas, rollout, "default", [Tcp(port)], ("name", name));
        var workloads = new List<ScenarioWorkload>
        {
            Svc("cart-db", 27017), Svc("cart", 80, rollout: 4), Svc("catalogue-db", 3306), Svc("catalogue", 80, rollout: 6),
            Svc("front-end", 8079, rollout: 3, replicas: 2), Svc("orders-db", 27017), Svc("orders", 80, rollout: 5), Svc("payment", 80),
            Svc("queue-master", 80), Svc("rabbitmq", 5672), Svc("shipping", 80, rollout: 7), Svc("user-db", 27017), Svc("user", 80, rollout: 5),
            Svc("zipkin", 9411),
            CronJob(ns, "orders-report", CronSchedule.Daily, 1, "default", ("name", "orders-report")),
            Svc("front-end", 8079, space: dev), Svc("catalogue", 80, space: dev), Svc("catalogue-db", 3306, space: dev),
        };
        string W(string name) => ns + "/" + name;
        ScenarioCall Call(string client, string server, ushort port, double perHour) => new(W(client), CallTarget.Workload(W(server)), port, Protocol.Tcp, perHour);
        var calls = new List<ScenarioCall>
        {
            Call("front-end", "catalogue", 80, 2), Call("front-end", "cart", 80, 1.5), Call("front-end", "orders", 80, 0.5), Call("front-end", "user", 80, 1),
            Call("orders", "payment", 80, 0.5), Call("orders", "user", 80, 0.5), Call("orders", "cart", 80, 0.5), Call("orders", "shipping", 80, 0.5),
            Call("orders", "orders-db", 27017, 0.8), Call("shipping", "rabbitmq", 5672, 0.5), Call("queue-master", "rabbitmq", 5672, 0.7),
            Call("cart", "cart-db", 27017, 1.5), Call("catalogue", "catalogue-db", 3306, 1.5), Call("user", "user-db", 27017, 1),
            Call("catalogue", "zipkin", 9411, 0.5), Call("payment", "zipkin", 9411, 0.3), Call("user", "zipkin", 9411, 0.5),
            new(W("catalogue"), CallTarget.External("image-cdn"), 443, Protocol.Tcp, 0, CallPattern.StartupOnly),
            Call("orders-report", "orders-db", 27017, 0),
            new(W("orders-report"), CallTarget.External("mail-api"), 443, Protocol.Tcp, 0),
            new(dev + "/front-end", CallTarget.Workload(dev + "/catalogue"), 80, Protocol.Tcp, 0.5),
            new(dev + "/catalogue", CallTarget.Workload(dev + "/catalogue-db"), 3306, Protocol.Tcp, 0.5),
        };
        return Complete(new AppPart
        {
            Name = "sock-shop",
            DerivedFrom = "microservices-demo/microservices-demo deploy/kubernetes/complete-demo.yaml @ 039118198a49aee0da731472aa73c2983fb72757",
            Days = 21,
            Seed = 1603,
            Namespaces = new Dictionary<string, IReadOnlyDictionary<string, string>>
            {
                [ns] = NamespaceLabels(ns, ("env", "prod")),
                [dev] = NamespaceLabels(dev, ("env", "dev")),
            },
            Workloads = workloads,
            Calls = calls,
            Externals =
            [
                new("image-cdn", [IPAddress.Parse("151.101.1.1"), IPAddress.Parse("151.101.65.1"), IPAddress.Parse("151.101.129.1")]),
                new("mail-api", [IPAddress.Parse("167.89.118.10"), IPAddress.Parse("167.89.118.11"), IPAddress.Parse("167.89.118.12")]),
            ],
            FrontDoor = (W("front-end"), 8079),
            InternetPerHour = 3,
            Scraped = [(W("cart"), 80), (W("orders"), 80), (W("shipping"), 80), (W("queue-master"), 80)],
            DebugPod = (ns, [(W("user-db"), 27017)]),
            CrossBoundary = (dev + "/catalogue", W("catalogue-db"), 3306),
        });
    }
}

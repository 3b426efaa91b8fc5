using FlowPolicy.Cli.Serve;
using Microsoft.Extensions.Logging.Abstractions;

namespace FlowPolicy.Tests.Serve;

/// <summary>Serve's scheduled analyze job is given what `flowpolicy analyze` is: the intent's L3/L4 and its L7 rules.</summary>
public sealed class ServeAnalyzeJobTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("flowpolicy-serve-analyze-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void The_scheduled_analyze_job_reads_the_intents_L7_rules_on_every_run()
    {
        var intent = Directory.CreateDirectory(Path.Combine(_dir, "intent")).FullName;
        File.WriteAllText(Path.Combine(intent, "l4.yaml"), """
            apiVersion: networking.k8s.io/v1
            kind: NetworkPolicy
            metadata: { name: default-deny, namespace: shop }
            spec: { podSelector: {}, policyTypes: [Ingress] }
            """);
        var config = ServeConfig.Parse($"intent: {intent}\n");
        using var client = new FlowPolicy.ClickHouse.ClickHouseHttpClient(FlowPolicy.Cli.Commands.ServerOptions.ClickHouseClient("http://127.0.0.1:1/", "flowpolicy"));
        var analyze = Assert.IsType<AnalyzeWindowJob>(new ScheduledJobFactory(config, client, NullLoggerFactory.Instance).Create(config.Job("analyze")));
        Assert.False(analyze.LoadIntent()!.L7.HasRules);

        // Added while serve runs: the next run judges with it, as it does the L3/L4 intent.
        File.WriteAllText(Path.Combine(intent, "l7.yaml"), """
            apiVersion: cilium.io/v2
            kind: CiliumNetworkPolicy
            metadata: { name: cart-api, namespace: shop }
            spec:
              endpointSelector: { matchLabels: { app: cart } }
              ingress:
                - fromEndpoints: [ { matchLabels: { app: frontend } } ]
                  toPorts:
                    - ports: [ { port: "8080", protocol: TCP } ]
                      rules: { http: [ { method: GET, path: "/cart/.*" } ] }
            """);
        Assert.True(analyze.LoadIntent()!.L7.HasRules);

        var noIntent = ServeConfig.Parse("http:\n  port: 0\n");
        Assert.Null(Assert.IsType<AnalyzeWindowJob>(new ScheduledJobFactory(noIntent, client, NullLoggerFactory.Instance).Create(noIntent.Job("analyze"))).LoadIntent());
    }
}

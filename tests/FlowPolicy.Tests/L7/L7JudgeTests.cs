using FlowPolicy.Analytics.Intent;
using FlowPolicy.Cli.Commands;
using FlowPolicy.Cli.Sample;
using FlowPolicy.Core.Edges;
using FlowPolicy.Core.Flows;
using FlowPolicy.Tests.Evaluation.Judge;
using FlowPolicy.Tests.PolicyValidation;
using FlowPolicy.Tests.Suggest;

namespace FlowPolicy.Tests.L7;

/// <summary>
/// suggest --l7's Cilium HTTP rules judged by an independent reading of Cilium (<see cref="CiliumHttpJudge"/>) against
/// the sample generator's ground truth (<see cref="SampleApp.GrpcMethods"/>: the gRPC methods each server answers), and
/// the L7 intent evaluator checked against the same judge on the same requests, plus requests nobody made.
/// </summary>
public sealed class L7JudgeTests(SampleSuggestion sample) : IClassFixture<SampleSuggestion>
{
    private static readonly string[] Unseen = ["/hipstershop.ProductCatalogService/SearchProducts", "/hipstershop.PaymentService/Refund", "/", "/admin"];

    [Fact]
    public void Suggested_cilium_http_rules_allow_every_ground_truth_method_and_deny_others_and_the_evaluator_agrees_with_the_judge()
    {
        var judge = new CiliumHttpJudge(PolicyDocuments.Load(Path.Combine(sample.OutL7, "cilium")));
        var evaluator = new L7IntentEvaluator(new IntentPolicyLoader().Load(Path.Combine(sample.OutL7, "cilium")));
        var app = new SampleApp(SampleCommand.DefaultStart, days: 7);
        int judged = 0;
        foreach (var edge in sample.Edges.Where(e => e.L7 is { Operations.Count: > 0 } && e.Client.Kind == EndpointKind.Pod && e.Server.Kind == EndpointKind.Pod))
        {
            if (SampleApp.GrpcMethods(edge.Server.Key, edge.Port) is not { } truth) continue;
            var server = app.Workloads.Single(w => w.Key == edge.Server.Key);
            var client = app.Workloads.Single(w => w.Key == edge.Client.Key);
            foreach (var (method, path, expected) in truth.Select(p => ("POST", p, HttpJudgement.Allowed))
                         .Concat(Unseen.Select(p => ("POST", p, HttpJudgement.DeniedAtL7)))
                         .Append(("GET", truth[0], HttpJudgement.DeniedAtL7)))
            {
                var verdict = judge.Judge(server.Namespace, server.Labels, client.Namespace, client.Labels, edge.Port, method, path);
                Assert.True(expected == verdict, $"{edge} {method} {path}: judge says {verdict}, ground truth {expected}");
                // The evaluator on a copy of the edge carrying just this request agrees with the judge.
                var probe = new Edge(edge.Client, edge.Server, edge.Port, edge.Protocol)
                {
                    Flows = 1, UnknownVerdictFlows = 1, FirstSeen = edge.FirstSeen, LastSeen = edge.LastSeen,
                    L7 = new EdgeL7Facts { Operations = [new L7Operation { Protocol = L7Protocol.Grpc, Operation = method, Resource = path, Requests = 1, FirstSeen = edge.FirstSeen, LastSeen = edge.LastSeen }] },
                };
                var decision = evaluator.Evaluate(probe);
                var mine = decision.Status == L7EdgeStatus.NoL7Rule ? HttpJudgement.Allowed
                    : Assert.Single(decision.Operations).Verdict switch { L7Verdict.Allowed => HttpJudgement.Allowed, L7Verdict.Denied => HttpJudgement.DeniedAtL7, var v => throw new Xunit.Sdk.XunitException($"{edge} {method} {path}: {v}") };
                Assert.True(verdict == mine, $"{edge} {method} {path}: judge {verdict}, evaluator {mine} ({decision.Status})");
                judged++;
            }
        }
        // frontend -> catalog (2 methods) and checkout -> payment (1), each with 4 unseen paths and a GET.
        Assert.Equal(2 + 5 + 1 + 5, judged);
    }
}

using FlowPolicy.Core.Edges;

namespace FlowPolicy.Analytics.Intent;

/// <summary>One allow rule of the intended policy, named so a person can find it in the policy files.</summary>
/// <param name="Policy">"namespace/name" of a Kubernetes NetworkPolicy, or "file.yaml#name" for policy-as-code.</param>
/// <param name="Rule">Which rule inside it: "ingress[0]", "egress[1]", or the policy-as-code rule's name.</param>
/// <param name="Kind">"NetworkPolicy", "FlowPolicy" ...</param>
public sealed record IntentRule(string Policy, string Rule, string Kind)
{
    public override string ToString() => $"{Policy} {Rule}";

    /// <summary>The rule's fields, "policy", "rule", "kind": the one JSON spelling of a rule in every output.</summary>
    public void WriteJsonFields(System.Text.Json.Utf8JsonWriter writer)
    {
        writer.WriteString("policy", Policy);
        writer.WriteString("rule", Rule);
        writer.WriteString("kind", Kind);
    }
}

/// <summary>What the intended policy says about one connection.</summary>
/// <param name="Allowed">Whether the intended policy lets the client connect to the server's port.</param>
/// <param name="MatchedRules">Every allow rule that matched (egress side and ingress side); empty when allowed by default.</param>
/// <param name="Reason">A sentence for reports: which policy isolates which side and that no rule allows the connection, or which rules allow it.</param>
public sealed record IntentDecision(bool Allowed, IReadOnlyList<IntentRule> MatchedRules, string Reason);

/// <summary>
/// The intended (declared) policy: answers, for a connection between two endpoints, allowed or denied and by which
/// rules. Analytics (compliance, drift, stale rules), suggest (diff against intent) and `check` (backtest) all ask
/// through this one interface.
/// </summary>
public interface IIntentEvaluator
{
    IntentDecision Evaluate(Endpoint client, Endpoint server, ushort port, byte protocol);

    /// <summary>
    /// The decision for an observed edge, which carries more than its endpoints: the DNS names its server was reached by,
    /// which Cilium toFQDNs rules match (<see cref="IntentEvaluator"/>). Evaluators that read no names need not override it.
    /// </summary>
    IntentDecision Evaluate(Edge edge) => Evaluate(edge.Client, edge.Server, edge.Port, edge.Protocol);

    /// <summary>Every allow rule the policy has, so rules that never matched can be reported as stale.</summary>
    IReadOnlyList<IntentRule> Rules { get; }
}

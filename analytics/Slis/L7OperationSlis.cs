using FlowPolicy.Analytics.Intent;
using FlowPolicy.Core.Edges;
using FlowPolicy.Core.Flows;

namespace FlowPolicy.Analytics.Slis;

/// <summary>
/// The SLIs of one L7 operation of one server (docs/l7.md, "SLIs per operation"): its requests over the window from
/// every client, how many the intended policy allows (the port allowed by the L4 intent and the operation not denied
/// by its L7 rules), denies, or leaves undetermined, and how many failed.
/// </summary>
public sealed class L7OperationSli
{
    public required string Server { get; init; }
    public required ushort Port { get; init; }
    public required L7Protocol Protocol { get; init; }
    public required string Operation { get; init; }
    public required string Resource { get; init; }
    public int Clients { get; set; }
    public long Requests { get; set; }
    public long Errors { get; set; }
    /// <summary>Requests the proxy already denied (an L7 policy in force).</summary>
    public long ProxyDenied { get; set; }
    public long RequestsAllowedByIntent { get; set; }
    /// <summary>Denied by the L4 intent (the port) or by its L7 rules.</summary>
    public long RequestsDeniedByIntent { get; set; }
    /// <summary>Denied by the intent's L7 rules alone (the port is allowed): the L7 denials `check` reports.</summary>
    public long RequestsDeniedAtL7 { get; set; }
    /// <summary>The L7 rules depend on what the flows do not show (headers, principals, some IDs of a template).</summary>
    public long RequestsUndetermined { get; set; }
    /// <summary>Why the L7 rules denied it (the first denying client's reason); null when they did not.</summary>
    public string? DeniedReason { get; set; }
    /// <summary>The first and last request of the window, over every client.</summary>
    public DateTime FirstSeen { get; set; } = DateTime.MaxValue;
    public DateTime LastSeen { get; set; } = DateTime.MinValue;

    /// <summary>Share of requests the intended policy allows; null without requests.</summary>
    public double? ComplianceRate => ServiceSli.Rate(RequestsAllowedByIntent, Requests);
    /// <summary>Share of requests the intended policy denies (L4 or L7).</summary>
    public double? DeniedRate => ServiceSli.Rate(RequestsDeniedByIntent, Requests);
    /// <summary>Share of requests that failed (HTTP 5xx, DNS rcode other than NOERROR, Kafka error code).</summary>
    public double? ErrorRate => ServiceSli.Rate(Errors, Requests);

    public override string ToString() => Operation.Length == 0 ? Resource : $"{Operation} {Resource}";

    /// <summary>
    /// One row per (server, port, protocol, operation, resource) over every edge with L7 facts, most requests first.
    /// <paramref name="l7"/> null: the intent has no L7 rules, so an operation is allowed exactly when its edge is.
    /// </summary>
    public static IReadOnlyList<L7OperationSli> Compute(IReadOnlyList<AssessedEdge> edges, L7IntentEvaluator? l7)
    {
        var rows = new Dictionary<(string, ushort, L7Protocol, string, string), L7OperationSli>();
        foreach (var item in edges)
        {
            var edge = item.Edge;
            if (edge.L7 is not { Operations.Count: > 0 } facts || edge.Flows <= 0) continue;
            var decision = l7 is null || !item.Intent.Allowed ? null : l7.Evaluate(edge);
            foreach (var op in facts.Operations)
            {
                var key = (edge.Server.Key, edge.Port, op.Protocol, op.Operation, op.Resource);
                if (!rows.TryGetValue(key, out var row))
                    rows[key] = row = new L7OperationSli { Server = edge.Server.Key, Port = edge.Port, Protocol = op.Protocol, Operation = op.Operation, Resource = op.Resource };
                row.Clients++;
                row.Requests += op.Requests;
                row.Errors += op.Errors;
                row.ProxyDenied += op.Denied;
                if (op.FirstSeen < row.FirstSeen) row.FirstSeen = op.FirstSeen;
                if (op.LastSeen > row.LastSeen) row.LastSeen = op.LastSeen;
                var verdict = decision?.Operations.FirstOrDefault(d => ReferenceEquals(d.Operation, op));
                if (!item.Intent.Allowed) row.RequestsDeniedByIntent += op.Requests;
                else if (verdict?.Verdict == L7Verdict.Denied)
                {
                    row.RequestsDeniedByIntent += op.Requests;
                    row.RequestsDeniedAtL7 += op.Requests;
                    row.DeniedReason ??= verdict.Reason;
                }
                else if (verdict?.Verdict == L7Verdict.Undetermined) row.RequestsUndetermined += op.Requests;
                else row.RequestsAllowedByIntent += op.Requests;
            }
        }
        return rows.Values.OrderByDescending(r => r.Requests).ThenBy(r => r.Server, StringComparer.Ordinal).ThenBy(r => r.Port)
            .ThenBy(r => r.Resource, StringComparer.Ordinal).ThenBy(r => r.Operation, StringComparer.Ordinal).ToList();
    }
}

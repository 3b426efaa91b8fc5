using System.Globalization;
using System.Text.Json;
using FlowPolicy.Core.Edges;

namespace FlowPolicy.Analytics.Slis;

/// <summary>
/// Writes slis.json (shape documented in README, `flowpolicy analyze`). Deterministic: same report, same bytes. Indented,
/// with each item of the drift lists compact on a line of its own (<see cref="JsonItemLine"/>).
/// </summary>
public static class SliJson
{
    /// <summary>Past this many buffered bytes a writer flushes to its stream, so a large document is not held twice.</summary>
    internal const int FlushBytes = 1 << 20;

    public static void Write(Stream output, SliReport report)
    {
        using var w = new Utf8JsonWriter(output, new JsonWriterOptions { Indented = true });
        w.WriteStartObject();
        w.WriteStartObject("window");
        w.WriteString("from", Time(report.Window.From));
        w.WriteString("to", Time(report.Window.To));
        w.WriteEndObject();
        var all = report.Overall;
        w.WriteNumber("flows_total", all.Flows);
        w.WriteNumber("bytes_total", all.Bytes);
        WriteRate(w, "compliance_rate", all.ComplianceRate);
        WriteRate(w, "bytes_compliance_rate", all.BytesComplianceRate);
        w.WriteNumber("denied_flows", all.DeniedFlows);
        w.WriteNumber("denied_flows_per_minute", all.DeniedFlowsPerMinute);

        // The three lists can hold an item per edge: each item compact on a line of its own.
        var line = new JsonItemLine();
        w.WriteStartObject("drift");
        w.WriteStartArray("unintended_edges");
        foreach (var item in report.UnintendedEdges)
        {
            var e = line.Start(w);
            e.WriteStartObject();
            EdgeJson.WriteKey(e, item.Edge);
            WriteVerdicts(e, item.Edge);
            e.WriteString("reason", item.Intent.Reason);
            e.WriteEndObject();
            line.WriteTo(w);
            if (w.BytesPending > FlushBytes) w.Flush();
        }
        w.WriteEndArray();
        w.WriteStartArray("stale_rules");
        foreach (var rule in report.StaleRules)
        {
            var r = line.Start(w);
            r.WriteStartObject();
            rule.WriteJsonFields(r);
            r.WriteEndObject();
            line.WriteTo(w);
            if (w.BytesPending > FlushBytes) w.Flush();
        }
        w.WriteEndArray();
        w.WriteStartArray("verdict_mismatches");
        foreach (var mismatch in report.VerdictMismatches)
        {
            var m = line.Start(w);
            m.WriteStartObject();
            EdgeJson.WriteKey(m, mismatch.Edge);
            bool outage = mismatch.Kind == MismatchKind.ObservedAllowedIntentDenies;
            m.WriteString("observed", outage ? "allowed" : "denied");
            m.WriteString("intended", outage ? "denied" : "allowed");
            m.WriteNumber("flows", mismatch.Flows);
            m.WriteString("risk", outage ? "outage_when_enforced" : "blocked_now");
            m.WriteString("reason", mismatch.Intent.Reason);
            m.WriteEndObject();
            line.WriteTo(w);
            if (w.BytesPending > FlushBytes) w.Flush();
        }
        w.WriteEndArray();
        w.WriteEndObject();

        w.WriteStartObject("blast_radius");
        foreach (var (workload, count) in report.BlastRadius)
        {
            w.WriteStartObject(workload);
            w.WriteNumber("intended", count.Intended);
            w.WriteNumber("observed", count.Observed);
            w.WriteEndObject();
        }
        w.WriteEndObject();

        w.WriteStartObject("per_service");
        foreach (var (name, sli) in report.PerService)
        {
            w.WriteStartObject(name);
            w.WriteNumber("flows", sli.Flows);
            w.WriteNumber("bytes", sli.Bytes);
            WriteRate(w, "compliance_rate", sli.ComplianceRate);
            WriteRate(w, "bytes_compliance_rate", sli.BytesComplianceRate);
            w.WriteNumber("denied_flows", sli.DeniedFlows);
            w.WriteNumber("denied_flows_per_minute", sli.DeniedFlowsPerMinute);
            w.WriteNumber("unintended_edges", sli.UnintendedEdges);
            w.WriteNumber("verdict_mismatches", sli.VerdictMismatches);
            w.WriteEndObject();
        }
        w.WriteEndObject();
        WriteL7Operations(w, report.L7Operations);
        w.WriteEndObject();
    }

    /// <summary>"l7_operations": the SLIs per L7 operation (docs/l7.md), in slis.json and report.json alike.</summary>
    public static void WriteL7Operations(Utf8JsonWriter w, IReadOnlyList<L7OperationSli> operations)
    {
        w.WriteStartArray("l7_operations");
        foreach (var op in operations)
        {
            w.WriteStartObject();
            w.WriteString("server", op.Server);
            w.WriteNumber("port", op.Port);
            w.WriteString("protocol", op.Protocol.ToString().ToLowerInvariant());
            w.WriteString("operation", op.Operation);
            w.WriteString("resource", op.Resource);
            w.WriteNumber("clients", op.Clients);
            w.WriteNumber("requests", op.Requests);
            w.WriteNumber("errors", op.Errors);
            w.WriteNumber("proxy_denied", op.ProxyDenied);
            w.WriteNumber("allowed_by_intent", op.RequestsAllowedByIntent);
            w.WriteNumber("denied_by_intent", op.RequestsDeniedByIntent);
            w.WriteNumber("denied_at_l7", op.RequestsDeniedAtL7);
            w.WriteNumber("undetermined", op.RequestsUndetermined);
            WriteRate(w, "compliance_rate", op.ComplianceRate);
            WriteRate(w, "denied_rate", op.DeniedRate);
            WriteRate(w, "error_rate", op.ErrorRate);
            if (op.DeniedReason is { } reason) w.WriteString("denied_reason", reason);
            w.WriteString("first_seen", Time(op.FirstSeen));
            w.WriteString("last_seen", Time(op.LastSeen));
            w.WriteEndObject();
            if (w.BytesPending > FlushBytes) w.Flush();
        }
        w.WriteEndArray();
    }

    private static void WriteVerdicts(Utf8JsonWriter w, Edge edge)
    {
        w.WriteNumber("flows", edge.Flows);
        w.WriteNumber("allowed", edge.AllowedFlows);
        w.WriteNumber("denied", edge.DeniedFlows);
        w.WriteNumber("unknown_verdict", edge.UnknownVerdictFlows);
    }

    private static void WriteRate(Utf8JsonWriter w, string name, double? rate)
    {
        if (rate is { } value) w.WriteNumber(name, value);
        else w.WriteNull(name);
    }

    /// <summary>The one time format of every analytics output: RFC 3339 UTC, whole seconds.</summary>
    public static string Time(DateTime utc) => utc.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture);
}

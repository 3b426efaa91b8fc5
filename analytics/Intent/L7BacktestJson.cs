using System.Text.Json;
using FlowPolicy.Core.Edges;

namespace FlowPolicy.Analytics.Intent;

/// <summary>The one JSON spelling of L7 verdicts and operations, for `check --json` and analyze's report.json.</summary>
public static class L7BacktestJson
{
    /// <summary>An operation's fields: protocol, operation, resource and its evidence.</summary>
    public static void WriteOperationFields(Utf8JsonWriter writer, L7Operation op)
    {
        writer.WriteString("protocol", op.Protocol.ToString().ToLowerInvariant());
        writer.WriteString("operation", op.Operation);
        writer.WriteString("resource", op.Resource);
        writer.WriteNumber("requests", op.Requests);
        writer.WriteNumber("proxy_denied", op.Denied);
        writer.WriteNumber("errors", op.Errors);
        writer.WriteString("first_seen", op.FirstSeen.ToString("yyyy-MM-ddTHH:mm:ssZ", System.Globalization.CultureInfo.InvariantCulture));
        writer.WriteString("last_seen", op.LastSeen.ToString("yyyy-MM-ddTHH:mm:ssZ", System.Globalization.CultureInfo.InvariantCulture));
        writer.WriteNumber("days", op.Days.Count);
        writer.WriteNumber("distinct_paths", op.DistinctPaths);
    }

    /// <summary>The "l7" object of `check --json`: denied, already_denied, denied_names, undetermined, not_observed, summary.</summary>
    public static void Write(Utf8JsonWriter writer, L7BacktestResult result)
    {
        writer.WriteStartObject("l7");
        WriteOperations(writer, "denied", result.Denied);
        WriteOperations(writer, "already_denied", result.AlreadyDenied);
        writer.WriteStartArray("denied_names");
        foreach (var name in result.DeniedNames)
        {
            writer.WriteStartObject();
            EdgeJson.WriteKey(writer, name.Edge);
            writer.WriteString("name", name.Decision.Name.Name);
            writer.WriteNumber("flows", name.Decision.Name.Flows);
            writer.WriteString("reason", name.Decision.Reason);
            writer.WriteEndObject();
        }
        writer.WriteEndArray();
        writer.WriteStartArray("undetermined");
        foreach (var decision in result.Undetermined)
        {
            foreach (var op in decision.Operations.Where(o => o.Verdict == L7Verdict.Undetermined))
            {
                writer.WriteStartObject();
                EdgeJson.WriteKey(writer, decision.Edge);
                WriteOperationFields(writer, op.Operation);
                writer.WriteString("reason", op.Reason);
                writer.WriteEndObject();
            }
            foreach (var name in decision.Names.Where(n => n.Verdict == L7Verdict.Undetermined))
            {
                writer.WriteStartObject();
                EdgeJson.WriteKey(writer, decision.Edge);
                writer.WriteString("name", name.Name.Name);
                writer.WriteString("reason", name.Reason);
                writer.WriteEndObject();
            }
        }
        writer.WriteEndArray();
        writer.WriteStartArray("not_observed");
        foreach (var decision in result.NotObserved)
        {
            writer.WriteStartObject();
            EdgeJson.WriteKey(writer, decision.Edge);
            writer.WriteNumber("flows", decision.Edge.Flows);
            writer.WriteStartArray("rules");
            foreach (var rule in decision.Rules) writer.WriteStringValue(rule);
            writer.WriteEndArray();
            writer.WriteString("reason", decision.Reason);
            writer.WriteEndObject();
        }
        writer.WriteEndArray();
        writer.WriteStartObject("summary");
        writer.WriteBoolean("passed", result.Passed);
        writer.WriteNumber("edges_with_l7_rules", result.Edges);
        writer.WriteNumber("judged_operations", result.JudgedOperations);
        writer.WriteNumber("judged_requests", result.JudgedRequests);
        writer.WriteNumber("denied_operations", result.Denied.Count);
        writer.WriteNumber("denied_requests", result.DeniedRequests);
        writer.WriteNumber("denied_names", result.DeniedNames.Count);
        writer.WriteNumber("not_observed_edges", result.NotObserved.Count);
        writer.WriteEndObject();
        writer.WriteEndObject();
    }

    private static void WriteOperations(Utf8JsonWriter writer, string name, IReadOnlyList<L7DeniedOperation> list)
    {
        writer.WriteStartArray(name);
        foreach (var denied in list)
        {
            writer.WriteStartObject();
            EdgeJson.WriteKey(writer, denied.Edge);
            WriteOperationFields(writer, denied.Decision.Operation);
            writer.WriteString("reason", denied.Decision.Reason);
            writer.WriteEndObject();
        }
        writer.WriteEndArray();
    }
}

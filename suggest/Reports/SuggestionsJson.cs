using System.Buffers;
using System.Globalization;
using System.Text.Json;
using FlowPolicy.Core.Edges;
using FlowPolicy.Suggest.Emitters;
using FlowPolicy.Suggest.Inference;

namespace FlowPolicy.Suggest.Reports;

/// <summary>suggestions.json: the format-neutral rule set with its evidence, what was left out and why (README).</summary>
internal static class SuggestionsJson
{
    public const int Version = 1;

    /// <summary>Past this many buffered bytes the writer flushes to the stream, so a large set is not held twice.</summary>
    private const int FlushBytes = 1 << 20;

    public static byte[] Write(SuggestionSet set, IReadOnlyDictionary<string, string> assumptions, IntentDiff? diff)
    {
        using var stream = new MemoryStream();
        Write(stream, set, assumptions, diff);
        return stream.ToArray();
    }

    /// <summary>
    /// Streams the document to <paramref name="stream"/> (a file), flushing as it goes. Compact, with each warning,
    /// rule and left-out edge on a line of its own: a million rules were 1.9 GB indented (mostly indentation), and a
    /// line per rule keeps the file greppable and its diffs between runs one line per changed rule. Rules are
    /// rendered in chunks on every core and written in order.
    /// </summary>
    public static void Write(Stream stream, SuggestionSet set, IReadOnlyDictionary<string, string> assumptions, IntentDiff? diff)
    {
        using (var w = new Utf8JsonWriter(stream))
        {
            var line = new JsonItemLine();
            w.WriteStartObject();
            w.WriteNumber("version", Version);
            w.WriteStartObject("window");
            w.WriteString("from", Time(set.WindowStart));
            w.WriteString("to", Time(set.WindowEnd));
            w.WriteNumber("days", Math.Round(set.WindowDays, 2));
            w.WriteEndObject();
            w.WriteNumber("input_edges", set.InputEdges);
            w.WriteStartArray("warnings");
            for (int i = 0; i < set.Warnings.Count; i++)
            {
                line.Start(w).WriteStringValue(set.Warnings[i]);
                line.WriteTo(w);
                if (w.BytesPending > FlushBytes) w.Flush();
            }
            w.WriteEndArray();
            w.WriteStartArray("rules");
            WriteRules(w, set.Rules);
            w.WriteEndArray();
            w.WriteStartArray("left_out");
            foreach (var left in set.LeftOut)
            {
                var lw = line.Start(w);
                lw.WriteStartObject();
                lw.WriteString("reason", left.ReasonName);
                lw.WriteString("detail", left.Detail);
                EdgeJson.WriteKey(lw, left.Edge);
                EdgeJson.WriteEvidence(lw, left.Edge);
                lw.WriteEndObject();
                line.WriteTo(w);
                if (w.BytesPending > FlushBytes) w.Flush();
            }
            w.WriteEndArray();
            w.WriteStartArray("groups");
            foreach (var group in set.Groups)
            {
                w.WriteStartObject();
                w.WriteString("namespace", group.Namespace);
                w.WriteString("label", group.LabelKey);
                w.WriteNumber("edges_inside", group.EdgesInside);
                w.WriteStartObject("members");
                foreach (var (value, members) in group.Members)
                {
                    w.WriteStartArray(value);
                    foreach (var m in members) w.WriteStringValue(m);
                    w.WriteEndArray();
                }
                w.WriteEndObject();
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteStartObject("assumptions");
            foreach (var (format, text) in assumptions) w.WriteString(format, text);
            w.WriteEndObject();
            if (diff is not null) WriteDiff(w, diff);
            w.WriteEndObject();
        }
        stream.WriteByte((byte)'\n');
    }

    /// <summary>Rules per chunk: ~1.3 KB of JSON per rule, so a few MB per chunk, at most two per core in flight.</summary>
    private const int RulesPerChunk = 2048;

    /// <summary>
    /// The rules, a line each, as raw values of <paramref name="w"/>'s open array: chunks of rules are rendered side by
    /// side (at most two per core in flight) and written in rule order, so the bytes are those of one writer.
    /// </summary>
    private static void WriteRules(Utf8JsonWriter w, IReadOnlyList<SuggestedRule> rules)
    {
        int chunks = (rules.Count + RulesPerChunk - 1) / RulesPerChunk;
        if (chunks <= 1 || Environment.ProcessorCount == 1)
        {
            var buffer = new ArrayBufferWriter<byte>();
            for (int c = 0; c < chunks; c++)
            {
                int from = c * RulesPerChunk, to = Math.Min(rules.Count, from + RulesPerChunk);
                w.WriteRawValue(RenderChunk(rules, from, to, buffer).WrittenSpan, skipInputValidation: true);
                w.Flush();
                buffer.ResetWrittenCount();
            }
            return;
        }
        // Chunk buffers are reused: a fresh multi-megabyte buffer per chunk lands on the large-object heap, which only
        // a full collection frees (a million rules grew the peak RSS by ~400 MB).
        var buffers = new System.Collections.Concurrent.ConcurrentBag<ArrayBufferWriter<byte>>();
        var pending = new Queue<Task<ArrayBufferWriter<byte>>>();
        int next = 0, ahead = 2 * Environment.ProcessorCount;
        try
        {
            while (next < chunks || pending.Count > 0)
            {
                while (next < chunks && pending.Count < ahead)
                {
                    int from = next++ * RulesPerChunk, to = Math.Min(rules.Count, from + RulesPerChunk);
                    pending.Enqueue(Task.Run(() => RenderChunk(rules, from, to, buffers.TryTake(out var reused) ? reused : new ArrayBufferWriter<byte>(RulesPerChunk * 1536))));
                }
                var chunk = pending.Dequeue().GetAwaiter().GetResult();
                w.WriteRawValue(chunk.WrittenSpan, skipInputValidation: true);
                w.Flush();
                chunk.ResetWrittenCount();
                buffers.Add(chunk);
            }
        }
        finally
        {
            // A failed write leaves no chunk rendering behind it.
            foreach (var task in pending) task.ContinueWith(static _ => { }).Wait();
        }
    }

    /// <summary>Rules [from, to) as "\n{rule},\n{rule}...": one raw value of the rules array.</summary>
    private static ArrayBufferWriter<byte> RenderChunk(IReadOnlyList<SuggestedRule> rules, int from, int to, ArrayBufferWriter<byte> buffer)
    {
        using var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { SkipValidation = true });
        for (int i = from; i < to; i++)
        {
            writer.Flush();
            buffer.Write(i == from ? "\n"u8 : ",\n"u8);
            writer.Reset(buffer);
            WriteRule(writer, rules[i]);
        }
        writer.Flush();
        return buffer;
    }

    private static void WriteRule(Utf8JsonWriter w, SuggestedRule rule)
    {
        w.WriteStartObject();
        w.WriteString("id", rule.Id);
        w.WritePropertyName("client");
        WritePeer(w, rule.Client);
        w.WritePropertyName("server");
        WritePeer(w, rule.Server);
        w.WriteNumber("port", rule.Port);
        w.WriteString("proto", rule.ProtocolName);
        w.WriteString("confidence", rule.ConfidenceName);
        w.WriteString("confidence_reason", rule.ConfidenceReason);
        w.WriteStartArray("flags");
        foreach (var flag in rule.Flags) w.WriteStringValue(flag);
        w.WriteEndArray();
        w.WriteStartObject("periodicity");
        w.WriteString("pattern", rule.Periodicity.PatternName);
        if (rule.Periodicity.PeriodDays is { } p) w.WriteNumber("period_days", p);
        else w.WriteNull("period_days");
        w.WriteString("note", rule.Periodicity.Note);
        w.WriteEndObject();
        if (rule.Generalisation is { } g) w.WriteString("generalisation", g);
        var e = rule.Evidence;
        w.WriteStartObject("evidence");
        w.WriteNumber("flows", e.Flows);
        w.WriteNumber("bytes", e.Bytes);
        WriteTime(w, "first_seen", e.FirstSeen);
        WriteTime(w, "last_seen", e.LastSeen);
        w.WriteNumber("days_seen", e.DaysSeen);
        w.WriteNumber("client_replicas", e.ClientReplicas);
        w.WriteNumber("edges", e.Edges);
        w.WriteNumber("denied", e.DeniedFlows);
        w.WriteEndObject();
        w.WriteStartArray("edges");
        foreach (var edge in rule.Edges) EdgeJson.Write(w, edge);
        w.WriteEndArray();
        w.WriteEndObject();
    }

    private static void WritePeer(Utf8JsonWriter w, Peer peer)
    {
        w.WriteStartObject();
        w.WriteString("kind", peer.Kind switch { PeerKind.Workload => "workload", PeerKind.Nodes => "nodes", PeerKind.Network => "network", _ => "internet" });
        w.WriteString("key", peer.Key);
        if (peer.IsWorkload)
        {
            w.WriteString("namespace", peer.Namespace);
            w.WriteString("workload", peer.Workload);
            w.WriteString("workload_kind", peer.WorkloadKind);
            w.WriteStartObject("selector");
            foreach (var (key, value) in peer.Selector) w.WriteString(key, value);
            w.WriteEndObject();
        }
        if (peer.Cidrs.Count > 0)
        {
            w.WriteStartArray("cidrs");
            foreach (var c in peer.Cidrs) w.WriteStringValue(c.ToString());
            w.WriteEndArray();
        }
        if (peer.Except.Count > 0)
        {
            w.WriteStartArray("except");
            foreach (var c in peer.Except) w.WriteStringValue(c.ToString());
            w.WriteEndArray();
        }
        w.WriteEndObject();
    }

    private static void WriteDiff(Utf8JsonWriter w, IntentDiff diff)
    {
        w.WriteStartObject("intent");
        w.WriteStartArray("add");
        foreach (var rule in diff.ToAdd) w.WriteStringValue(rule.Id);
        w.WriteEndArray();
        w.WriteStartArray("approved");
        foreach (var approved in diff.Approved)
        {
            w.WriteStartObject();
            w.WriteString("id", approved.Rule.Id);
            w.WriteStartArray("intent_rules");
            foreach (var r in approved.IntentRules) w.WriteStringValue(r.ToString());
            w.WriteEndArray();
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteStartArray("unused");
        foreach (var r in diff.Unused)
        {
            w.WriteStartObject();
            r.WriteJsonFields(w);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteEndObject();
    }

    private static void WriteTime(Utf8JsonWriter w, string name, DateTime t)
    {
        Span<char> text = stackalloc char[20];
        if (new TimeText(t, Seconds: true).TryFormat(text, out int length, default, null)) w.WriteString(name, text[..length]);
        else w.WriteString(name, Time(t));
    }

    private static string Time(DateTime t) => t.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture);
}

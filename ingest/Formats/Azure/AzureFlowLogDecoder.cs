using System.Buffers.Text;
using System.Text.Json;
using FlowPolicy.Core.Flows;
using FlowPolicy.Core.Net;
using FlowPolicy.Ingest.Formats.Internal;

namespace FlowPolicy.Ingest.Formats.Azure;

/// <summary>
/// Azure Network Watcher flow logs: NSG flow logs version 1 and 2 (category NetworkSecurityGroupFlowEvent) and
/// virtual network flow logs (category FlowLogFlowEvent), as Microsoft documents them. Input is a
/// `{"records":[...]}` document (a PT1H.json blob), JSON lines of such documents or of single records (Event Hubs
/// and Kafka carry one per message), or a JSON array of records. Every flow tuple becomes one record; a broken
/// tuple is rejected at its own line and the others still decode. docs/formats.md has the mapping.
/// </summary>
internal sealed class AzureFlowLogDecoder : FlowDecoder, IJsonObjectDecoder
{
    private const string Name = "azure";
    /// <summary>Microsoft's documentation once showed a document nested inside "records"; allow a little nesting.</summary>
    private const int MaxDocumentNesting = 4;
    /// <summary>Epoch values at or above this are milliseconds (VNet flow logs); below it, seconds (NSG flow logs).</summary>
    private const ulong MillisecondsThreshold = 100_000_000_000UL;

    public override FlowFormat Format => FlowFormat.Azure;

    /// <summary>Always false: a document spans many lines. JSON lines are also handled by <see cref="Decode"/>.</summary>
    public override bool IsLineOriented(ReadOnlySpan<byte> head) => false;

    internal override void Decode(ReadOnlySpan<byte> payload, ref DecodeCursor cursor, IFlowSink sink) =>
        JsonObjectScanner.Scan(payload, ref cursor, sink, Name, this, jsonLines: JsonObjectScanner.LooksLikeJsonLines(payload));

    bool IJsonObjectDecoder.DecodeObject(ref Utf8JsonReader reader, ref JsonScanContext context) =>
        DecodeDocumentOrRecord(ref reader, ref context, 0);

    private static bool DecodeDocumentOrRecord(ref Utf8JsonReader reader, ref JsonScanContext context, int nesting)
    {
        // Fields come in any order, so look at the envelope first (on a copy), then walk the flows.
        var envelope = ReadEnvelope(reader);
        if (envelope.HasRecords && nesting < MaxDocumentNesting)
        {
            DecodeRecordsArray(ref reader, ref context, nesting);
            return true;
        }
        if (!envelope.HasProperties && !envelope.HasFlowRecords)
        {
            reader.Skip();
            return false;
        }

        int start = context.Absolute(reader.TokenStartIndex);
        bool sawFlows = false;
        int depth = reader.CurrentDepth;
        while (reader.Read() && !(reader.TokenType == JsonTokenType.EndObject && reader.CurrentDepth == depth))
        {
            if (reader.TokenType != JsonTokenType.PropertyName) continue;
            bool nsg = JsonValues.NameIs(ref reader, "properties"u8);
            bool vnet = !nsg && JsonValues.NameIs(ref reader, "flowRecords"u8);
            reader.Read();
            if ((nsg || vnet) && reader.TokenType == JsonTokenType.StartObject)
                sawFlows |= DecodeFlowsContainer(ref reader, ref context, envelope, vnet);
            else
                reader.Skip();
        }
        if (!sawFlows)
        {
            int end = context.Absolute(reader.BytesConsumed);
            context.Reject(start, envelope.HasFlowRecords ? "record has no flowRecords.flows array" : "record has no properties.flows array",
                context.Payload[start..end]);
        }
        return true;
    }

    private static void DecodeRecordsArray(ref Utf8JsonReader reader, ref JsonScanContext context, int nesting)
    {
        int depth = reader.CurrentDepth;
        while (reader.Read() && !(reader.TokenType == JsonTokenType.EndObject && reader.CurrentDepth == depth))
        {
            if (reader.TokenType != JsonTokenType.PropertyName) continue;
            bool records = JsonValues.NameIs(ref reader, "records"u8);
            reader.Read();
            if (!records)
            {
                reader.Skip();
                continue;
            }
            if (reader.TokenType != JsonTokenType.StartArray)
            {
                int at = context.Absolute(reader.TokenStartIndex);
                context.Reject(at, "records is not an array", Token(in reader, context.ReaderBytes));
                reader.Skip();
                continue;
            }
            while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
            {
                int at = context.Absolute(reader.TokenStartIndex);
                if (reader.TokenType == JsonTokenType.StartObject)
                {
                    if (!DecodeDocumentOrRecord(ref reader, ref context, nesting + 1))
                        context.Reject(at, "records[] element is not a flow log record", context.Payload[at..context.Absolute(reader.BytesConsumed)]);
                }
                else
                {
                    context.Reject(at, "records[] element is not an object", Token(in reader, context.ReaderBytes));
                    reader.Skip();
                }
            }
        }
    }

    /// <summary>
    /// Walks `properties` (NSG: flows[] of {rule, flows[] of {mac, flowTuples[]}}) or `flowRecords` (VNet: flows[] of
    /// {aclID, flowGroups[] of {rule, flowTuples[]}}). Returns whether a flows property was there.
    /// </summary>
    private static bool DecodeFlowsContainer(ref Utf8JsonReader reader, ref JsonScanContext context, in Envelope envelope, bool vnet)
    {
        bool sawFlows = false;
        int depth = reader.CurrentDepth;
        while (reader.Read() && !(reader.TokenType == JsonTokenType.EndObject && reader.CurrentDepth == depth))
        {
            if (reader.TokenType != JsonTokenType.PropertyName) continue;
            bool flows = JsonValues.NameIs(ref reader, "flows"u8);
            reader.Read();
            if (!flows)
            {
                reader.Skip();
                continue;
            }
            sawFlows = true;
            if (reader.TokenType != JsonTokenType.StartArray)
            {
                context.Reject(context.Absolute(reader.TokenStartIndex), "flows is not an array", Token(in reader, context.ReaderBytes));
                reader.Skip();
                continue;
            }
            while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
            {
                if (reader.TokenType != JsonTokenType.StartObject)
                {
                    context.Reject(context.Absolute(reader.TokenStartIndex), "flows[] element is not an object", Token(in reader, context.ReaderBytes));
                    reader.Skip();
                    continue;
                }
                if (vnet)
                {
                    string? acl = Specified(JsonValues.FindString(reader, "aclID"u8));
                    DecodeGroups(ref reader, ref context, envelope, acl, "flowGroups"u8, vnet: true);
                }
                else
                {
                    string? rule = JsonValues.FindString(reader, "rule"u8);
                    var scope = new TupleScope(envelope.Version, false, PolicyName(envelope.NsgName, rule), envelope.Mac ?? envelope.NsgName);
                    DecodeGroups(ref reader, ref context, envelope, null, "flows"u8, vnet: false, nsgScope: scope);
                }
            }
        }
        return sawFlows;
    }

    /// <summary>
    /// For VNet: an ACL entry's flowGroups[] ({rule, flowTuples[]}). For NSG: a rule's flows[] ({mac, flowTuples[]}).
    /// The reader is on the entry's StartObject and ends on its EndObject.
    /// </summary>
    private static void DecodeGroups(ref Utf8JsonReader reader, ref JsonScanContext context, in Envelope envelope, string? acl,
        ReadOnlySpan<byte> groupsName, bool vnet, TupleScope nsgScope = default)
    {
        int depth = reader.CurrentDepth;
        while (reader.Read() && !(reader.TokenType == JsonTokenType.EndObject && reader.CurrentDepth == depth))
        {
            if (reader.TokenType != JsonTokenType.PropertyName) continue;
            bool groups = JsonValues.NameIs(ref reader, groupsName);
            reader.Read();
            if (!groups)
            {
                reader.Skip();
                continue;
            }
            if (reader.TokenType != JsonTokenType.StartArray)
            {
                context.Reject(context.Absolute(reader.TokenStartIndex), (vnet ? "flowGroups" : "flows") + " is not an array", Token(in reader, context.ReaderBytes));
                reader.Skip();
                continue;
            }
            while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
            {
                if (reader.TokenType != JsonTokenType.StartObject)
                {
                    context.Reject(context.Absolute(reader.TokenStartIndex), (vnet ? "flowGroups" : "flows") + "[] element is not an object", Token(in reader, context.ReaderBytes));
                    reader.Skip();
                    continue;
                }
                TupleScope scope;
                if (vnet)
                {
                    string? rule = JsonValues.FindString(reader, "rule"u8);
                    scope = new TupleScope(envelope.Version, true, PolicyName(acl, Specified(rule)), envelope.Mac ?? envelope.TargetName);
                }
                else
                {
                    string? mac = JsonValues.FindString(reader, "mac"u8);
                    scope = mac is null || mac == nsgScope.Reporter ? nsgScope : nsgScope with { Reporter = mac };
                }
                DecodeTupleList(ref reader, ref context, scope);
            }
        }
    }

    /// <summary>Finds flowTuples in the object the reader is on and decodes each tuple.</summary>
    private static void DecodeTupleList(ref Utf8JsonReader reader, ref JsonScanContext context, in TupleScope scope)
    {
        Span<byte> scratch = stackalloc byte[JsonValues.MaxInlineString];
        int depth = reader.CurrentDepth;
        while (reader.Read() && !(reader.TokenType == JsonTokenType.EndObject && reader.CurrentDepth == depth))
        {
            if (reader.TokenType != JsonTokenType.PropertyName) continue;
            bool tuples = JsonValues.NameIs(ref reader, "flowTuples"u8);
            reader.Read();
            if (!tuples)
            {
                reader.Skip();
                continue;
            }
            if (reader.TokenType != JsonTokenType.StartArray)
            {
                context.Reject(context.Absolute(reader.TokenStartIndex), "flowTuples is not an array", Token(in reader, context.ReaderBytes));
                reader.Skip();
                continue;
            }
            while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
            {
                int at = context.Absolute(reader.TokenStartIndex);
                if (reader.TokenType != JsonTokenType.String)
                {
                    context.Reject(at, "flow tuple is not a string", Token(in reader, context.ReaderBytes));
                    reader.Skip();
                    continue;
                }
                if (!JsonValues.TryGetUtf8(in reader, scratch, out var tuple))
                {
                    context.Reject(at, "flow tuple is too long", reader.ValueSpan);
                    continue;
                }
                if (IsBlank(tuple))
                {
                    context.Skip(at, "empty flow tuple");
                    continue;
                }
                string? error = ParseTuple(tuple, scope, out var flow);
                if (error is null) context.Sink.Accept(in flow);
                else context.Reject(at, error, tuple);
            }
        }
    }

    /// <summary>
    /// Parses one comma-separated tuple. NSG v1: time,src,dst,sport,dport,T|U,I|O,A|D. NSG v2 adds
    /// state(B|C|E),packets S->D,bytes S->D,packets D->S,bytes D->S (empty for B). VNet: time(ms),src,dst,sport,
    /// dport,IANA protocol,I|O,state(B|C|E|D),encryption,packets S->D,bytes S->D,packets D->S,bytes D->S.
    /// Returns null on success, else the reason.
    /// </summary>
    internal static string? ParseTuple(ReadOnlySpan<byte> tuple, in TupleScope scope, out FlowRecord flow)
    {
        flow = default;
        Span<Range> fields = stackalloc Range[14];
        int count = 0, fieldStart = 0;
        for (int i = 0; i <= tuple.Length && count < fields.Length; i++)
        {
            if (i == tuple.Length || tuple[i] == (byte)',')
            {
                fields[count++] = new Range(fieldStart, i);
                fieldStart = i + 1;
            }
        }
        if (scope.VNet)
        {
            if (count != 13) return count > 13 ? "VNet flow tuple has more than 13 fields" : $"VNet flow tuple has {count} fields, expected 13";
        }
        else if (scope.Version == 1 && count != 8) return count > 13 ? "NSG flow tuple has more than 13 fields" : $"NSG version 1 flow tuple has {count} fields, expected 8";
        else if (scope.Version == 2 && count != 13) return count > 13 ? "NSG flow tuple has more than 13 fields" : $"NSG version 2 flow tuple has {count} fields, expected 13";
        else if (count is not (8 or 13)) return count > 13 ? "NSG flow tuple has more than 13 fields" : $"NSG flow tuple has {count} fields, expected 8 (version 1) or 13 (version 2)";

        var time = tuple[fields[0]];
        if (!FlowTimestamps.TryParseUInt64(time, out ulong epoch) || !TryEpoch(epoch, out var at))
            return "time '" + Excerpts.Of(time) + "' is not a Unix epoch time";
        if (!PackedIp.TryParse(tuple[fields[1]], out flow.SrcIp)) return "source IP '" + Excerpts.Of(tuple[fields[1]]) + "' is not an IP address";
        if (!PackedIp.TryParse(tuple[fields[2]], out flow.DstIp)) return "destination IP '" + Excerpts.Of(tuple[fields[2]]) + "' is not an IP address";
        if (!TryPort(tuple[fields[3]], out flow.SrcPort)) return "source port '" + Excerpts.Of(tuple[fields[3]]) + "' is not a port (0-65535)";
        if (!TryPort(tuple[fields[4]], out flow.DstPort)) return "destination port '" + Excerpts.Of(tuple[fields[4]]) + "' is not a port (0-65535)";
        if (!TryProtocol(tuple[fields[5]], out flow.Protocol))
            return "protocol '" + Excerpts.Of(tuple[fields[5]]) + (scope.VNet ? "' is not an IANA protocol number" : "' is not T (TCP) or U (UDP)");
        var direction = tuple[fields[6]];
        if (!(direction.Length == 1 && direction[0] is (byte)'I' or (byte)'O'))
            return "flow direction '" + Excerpts.Of(direction) + "' is not I or O";

        var decision = tuple[fields[7]];
        if (scope.VNet)
        {
            if (!(decision.Length == 1 && decision[0] is (byte)'B' or (byte)'C' or (byte)'E' or (byte)'D'))
                return "flow state '" + Excerpts.Of(decision) + "' is not B, C, E or D";
            flow.Verdict = decision[0] == (byte)'D' || DropsUnencrypted(tuple[fields[8]]) ? Verdict.Denied : Verdict.Allowed;
        }
        else
        {
            if (!(decision.Length == 1 && decision[0] is (byte)'A' or (byte)'D'))
                return "traffic decision '" + Excerpts.Of(decision) + "' is not A or D";
            flow.Verdict = decision[0] == (byte)'A' ? Verdict.Allowed : Verdict.Denied;
            if (count == 13)
            {
                var state = tuple[fields[8]];
                if (!(state.Length == 1 && state[0] is (byte)'B' or (byte)'C' or (byte)'E'))
                    return "flow state '" + Excerpts.Of(state) + "' is not B, C or E";
            }
        }

        if (count == 13)
        {
            // Both directions' counters of the connection; B tuples leave them empty.
            if (!TryCounter(tuple[fields[9]], out ulong packetsOut)) return "packets sent '" + Excerpts.Of(tuple[fields[9]]) + "' is not a count";
            if (!TryCounter(tuple[fields[10]], out ulong bytesOut)) return "bytes sent '" + Excerpts.Of(tuple[fields[10]]) + "' is not a count";
            if (!TryCounter(tuple[fields[11]], out ulong packetsIn)) return "packets received '" + Excerpts.Of(tuple[fields[11]]) + "' is not a count";
            if (!TryCounter(tuple[fields[12]], out ulong bytesIn)) return "bytes received '" + Excerpts.Of(tuple[fields[12]]) + "' is not a count";
            flow.Packets = packetsOut + packetsIn;
            flow.Bytes = bytesOut + bytesIn;
        }

        flow.Start = at;
        flow.End = at;
        // Microsoft: source IP/port are where "the flow originated from"; one tuple covers both directions.
        flow.Direction = DirectionHint.Request;
        flow.Reporter = scope.Reporter;
        flow.PolicyName = scope.PolicyName;
        return null;
    }

    private static bool TryEpoch(ulong value, out DateTime at) =>
        value >= MillisecondsThreshold
            ? FlowTimestamps.TryFromUnixMilliseconds((long)Math.Min(value, long.MaxValue), out at)
            : FlowTimestamps.TryFromUnixSeconds((long)value, out at);

    private static bool TryPort(ReadOnlySpan<byte> text, out ushort port)
    {
        port = 0;
        if (text.IsEmpty) return true; // protocols without ports (ICMP) may leave them empty
        return text.Length <= 5 && IsDigits(text) && Utf8Parser.TryParse(text, out port, out int consumed) && consumed == text.Length;
    }

    private static bool TryProtocol(ReadOnlySpan<byte> text, out byte protocol)
    {
        protocol = 0;
        if (text.Length == 1 && text[0] is (byte)'T' or (byte)'t') protocol = IpProtocols.Tcp;
        else if (text.Length == 1 && text[0] is (byte)'U' or (byte)'u') protocol = IpProtocols.Udp;
        // VNet flow logs write IANA numbers; accept them in NSG tuples too rather than drop the flow.
        else if (text.Length is > 0 and <= 3 && IsDigits(text) && Utf8Parser.TryParse(text, out byte number, out int consumed) && consumed == text.Length)
            protocol = number;
        else return false;
        return true;
    }

    private static bool TryCounter(ReadOnlySpan<byte> text, out ulong value)
    {
        value = 0;
        if (text.IsEmpty) return true;
        // Bounded so the sum of both directions cannot overflow.
        return IsDigits(text) && Utf8Parser.TryParse(text, out value, out int consumed) && consumed == text.Length
            && value <= long.MaxValue;
    }

    /// <summary>Encryption states Microsoft documents as dropping the packet.</summary>
    private static bool DropsUnencrypted(ReadOnlySpan<byte> encryption) =>
        encryption.SequenceEqual("NX_SW_NOT_READY"u8) || encryption.SequenceEqual("NX_NOT_ACCEPTED"u8)
        || encryption.SequenceEqual("NX_NOT_SUPPORTED"u8);

    private static bool IsDigits(ReadOnlySpan<byte> text)
    {
        foreach (byte b in text)
            if ((uint)(b - '0') > 9) return false;
        return true;
    }

    private static bool IsBlank(ReadOnlySpan<byte> text)
    {
        foreach (byte b in text)
            if (b is not ((byte)' ' or (byte)'\t')) return false;
        return true;
    }

    private static string? Specified(string? value) =>
        string.IsNullOrEmpty(value) || value.Equals("unspecified", StringComparison.OrdinalIgnoreCase) ? null : value;

    /// <summary>"&lt;NSG name or aclID&gt;/&lt;rule&gt;": the rule, qualified by the resource that evaluated it.</summary>
    private static string? PolicyName(string? scope, string? rule) =>
        rule is null ? scope : scope is null ? rule : scope + "/" + rule;

    /// <summary>The bytes of the current token (a whole object or array when the reader is on its start).</summary>
    private static ReadOnlySpan<byte> Token(in Utf8JsonReader reader, ReadOnlySpan<byte> readerBytes)
    {
        int start = (int)reader.TokenStartIndex;
        var copy = reader;
        try
        {
            copy.Skip();
            return readerBytes[start..(int)copy.BytesConsumed];
        }
        catch (JsonException)
        {
            return readerBytes[start..];
        }
    }

    /// <summary>
    /// Looks at a record's (or document's) own fields on a copy of the reader. Tolerates broken JSON: returns what
    /// it saw before the break, so a truncated blob still decodes up to the break.
    /// </summary>
    private static Envelope ReadEnvelope(Utf8JsonReader reader)
    {
        var envelope = new Envelope();
        try
        {
            int depth = reader.CurrentDepth;
            while (reader.Read() && !(reader.TokenType == JsonTokenType.EndObject && reader.CurrentDepth == depth))
            {
                if (reader.TokenType != JsonTokenType.PropertyName) continue;
                if (JsonValues.NameIs(ref reader, "records"u8))
                {
                    envelope.HasRecords = true;
                    return envelope; // a document: nothing else of its envelope matters
                }
                if (JsonValues.NameIs(ref reader, "macAddress"u8))
                {
                    reader.Read();
                    envelope.Mac = JsonValues.GetStringOrNull(ref reader);
                }
                else if (JsonValues.NameIs(ref reader, "resourceId"u8))
                {
                    reader.Read();
                    envelope.NsgName = LastSegment(JsonValues.GetStringOrNull(ref reader));
                }
                else if (JsonValues.NameIs(ref reader, "targetResourceID"u8))
                {
                    reader.Read();
                    envelope.TargetName = LastSegment(JsonValues.GetStringOrNull(ref reader));
                }
                else if (JsonValues.NameIs(ref reader, "flowRecords"u8))
                {
                    envelope.HasFlowRecords = true;
                    reader.Read();
                }
                else if (JsonValues.NameIs(ref reader, "properties"u8))
                {
                    envelope.HasProperties = true;
                    reader.Read();
                    if (reader.TokenType == JsonTokenType.StartObject)
                    {
                        var inner = reader;
                        envelope.Version = ReadVersion(inner);
                    }
                }
                else
                {
                    reader.Read();
                }
                reader.Skip();
            }
        }
        catch (JsonException)
        {
            // Broken further on: the walk that follows reports it where it is.
        }
        return envelope;
    }

    private static int ReadVersion(Utf8JsonReader reader)
    {
        int depth = reader.CurrentDepth;
        while (reader.Read() && !(reader.TokenType == JsonTokenType.EndObject && reader.CurrentDepth == depth))
        {
            if (reader.TokenType != JsonTokenType.PropertyName) continue;
            bool version = JsonValues.NameIs(ref reader, "Version"u8);
            reader.Read();
            if (version)
                return JsonValues.ReadUInt64(ref reader, out ulong value) == FieldRead.Ok && value is 1 or 2 ? (int)value : 0;
            reader.Skip();
        }
        return 0;
    }

    private static string? LastSegment(string? resourceId)
    {
        if (string.IsNullOrEmpty(resourceId)) return null;
        int slash = resourceId.TrimEnd('/').LastIndexOf('/');
        string name = slash < 0 ? resourceId : resourceId.TrimEnd('/')[(slash + 1)..];
        return name.Length == 0 ? null : name;
    }

    private struct Envelope
    {
        public bool HasRecords, HasProperties, HasFlowRecords;
        public string? Mac, NsgName, TargetName;
        /// <summary>NSG `properties.Version` (1 or 2); 0 when absent, then the tuple's field count decides.</summary>
        public int Version;
    }

    /// <summary>What every tuple of one rule group shares.</summary>
    internal readonly record struct TupleScope(int Version, bool VNet, string? PolicyName, string? Reporter);
}

using FlowPolicy.Core.Flows;
using FlowPolicy.Core.Net;
using FlowPolicy.Ingest.Formats.Internal;

namespace FlowPolicy.Ingest.Formats.Vpc;

/// <summary>
/// AWS VPC Flow Logs, plain-text records (S3 files, Kinesis/Firehose, CloudWatch Logs messages): space-separated
/// fields, '-' for a value that does not apply. S3 files start with a header line naming the fields; the decoder
/// keeps it in the source's <see cref="VpcSourceState"/> (<see cref="DecodeCursor.State"/>) so later chunks of the
/// same file use it. Without a header the
/// configured format (default: the v2 default format) is assumed. See docs/formats.md.
/// </summary>
/// <remarks>
/// Mapping decisions: pkt-srcaddr/pkt-dstaddr, when present and not '-', win over srcaddr/dstaddr (they are the
/// real packet addresses behind NAT gateways, transit gateways and EKS pods on secondary IPs); Reporter is the
/// interface-id (instance-id when the format has no interface-id); flow-direction is ingress/egress relative to
/// the interface, not request/reply, so Direction stays Unknown.
/// </remarks>
internal sealed class AwsVpcFlowLogDecoder : LineFlowDecoder
{
    private readonly VpcFlowLogLayout _assumed;
    private readonly DateTime? _recordTime;

    /// <summary>Decodes the default v2 format, or whatever header line a file starts with.</summary>
    public AwsVpcFlowLogDecoder()
        : this(null)
    {
    }

    /// <param name="fieldOrder">See <see cref="AwsVpcFlowLogDecoder(string?)"/>.</param>
    /// <param name="recordTime">
    /// The time of records whose format has neither start nor end (<c>--time</c>); null to take it from the source's S3
    /// delivery path (<see cref="VpcRecordTime"/>), and where that holds none, such records are rejected.
    /// </param>
    public AwsVpcFlowLogDecoder(string? fieldOrder, DateTime? recordTime)
        : this(fieldOrder)
    {
        _recordTime = recordTime;
    }

    /// <param name="fieldOrder">
    /// The format of records that arrive without a header (Kinesis, CloudWatch, one record per Kafka message): field
    /// names separated by spaces, as in the flow log's LogFormat (<c>${version} ${srcaddr} ...</c> also works).
    /// Null for the default v2 format. A header line in the data always wins.
    /// </param>
    public AwsVpcFlowLogDecoder(string? fieldOrder)
    {
        _assumed = fieldOrder is null
            ? VpcFlowLogLayout.DefaultV2
            : VpcFlowLogLayout.Parse(fieldOrder)?.Shared()
              ?? throw new ArgumentException($"'{fieldOrder}' names no VPC flow log field (expected e.g. 'version srcaddr dstaddr ...').", nameof(fieldOrder));
    }

    public override FlowFormat Format => FlowFormat.AwsVpc;

    protected override void DecodeLine(ReadOnlySpan<byte> line, long lineNumber, ref DecodeCursor cursor, IFlowSink sink) =>
        DecodeRecord(line, lineNumber, ref cursor, sink);

    /// <summary>The layout of the chunk's source (its last header line so far), in a per-thread state whose reporter
    /// names carry over.</summary>
    public override object? StateForChunk(object? sourceState, object? reused)
    {
        var state = reused as VpcSourceState ?? new VpcSourceState();
        state.PrepareForNextSource();
        state.Layout = sourceState as VpcFlowLogLayout;
        return state;
    }

    /// <summary>The layout of the last header line among <paramref name="lines"/> (else <paramref name="before"/>). Records
    /// leave it as it was: a layout the decoder derives for a file without header is derived again, equal, per chunk.</summary>
    public override object? StateAfter(ReadOnlySpan<byte> lines, object? before, string source)
    {
        Span<Range> tokens = stackalloc Range[VpcFlowLogLayout.MaxFields + 1];
        var state = before;
        while (!lines.IsEmpty)
        {
            int newline = lines.IndexOf((byte)'\n');
            var line = newline < 0 ? lines : lines[..newline];
            lines = newline < 0 ? default : lines[(newline + 1)..];
            // A header's every token starts with a lower-case letter; a record starts with a version, account or address.
            int first = 0;
            while (first < line.Length && line[first] is (byte)' ' or (byte)'\t') first++;
            if (first == line.Length || (uint)(line[first] - 'a') > 'z' - 'a') continue;
            if (!line.IsEmpty && line[^1] == '\r') line = line[..^1];
            int count = Tokenize(line, tokens);
            if (count > VpcFlowLogLayout.MaxFields) continue;
            if (VpcFlowLogLayout.TryParseHeader(line, tokens[..count], out var header))
                state = header!.HasTimes ? header : header.ForFile(_recordTime, source);
        }
        return state;
    }

    /// <summary>One line: a header (remembered in the cursor) or a record. Internal so tests can prove it never throws.</summary>
    internal void DecodeRecord(ReadOnlySpan<byte> line, long lineNumber, ref DecodeCursor cursor, IFlowSink sink)
    {
        Span<Range> tokens = stackalloc Range[VpcFlowLogLayout.MaxFields + 1];
        int count = Tokenize(line, tokens);
        if (count > VpcFlowLogLayout.MaxFields)
        {
            Reject(sink, cursor, lineNumber, $"more than {VpcFlowLogLayout.MaxFields} fields", line);
            return;
        }
        tokens = tokens[..count];

        var state = DecodeStates.Of<VpcSourceState>(ref cursor);
        if (VpcFlowLogLayout.TryParseHeader(line, tokens, out var header))
        {
            state.Layout = header!.HasTimes ? header : header.ForFile(_recordTime, cursor.Source);
            return;
        }

        if (state.Layout is not { } layout)
        {
            layout = _assumed;
            if (!layout.HasTimes) state.Layout = layout = layout.ForFile(_recordTime, cursor.Source);
        }
        if (count != layout.Count)
        {
            Reject(sink, cursor, lineNumber, layout.IsDefault
                ? $"expected the {layout.Count} fields of the default format (no header line seen), found {count}"
                : $"expected {layout.Count} fields as in the header, found {count}", line);
            return;
        }

        var logStatus = Field(line, tokens, layout, VpcField.LogStatus);
        if (logStatus.SequenceEqual("NODATA"u8) || logStatus.SequenceEqual("SKIPDATA"u8))
        {
            sink.Skip(logStatus.Length == 6 ? "NODATA" : "SKIPDATA", cursor.At(lineNumber));
            return;
        }
        if (!IsAbsent(logStatus) && !logStatus.SequenceEqual("OK"u8))
        {
            Reject(sink, cursor, lineNumber, $"log-status '{Short(logStatus)}' is not OK, NODATA or SKIPDATA", line);
            return;
        }
        if (CarriesNoFlow(line, tokens, layout))
        {
            // A custom format without log-status still writes NODATA windows: every flow field is '-'.
            sink.Skip("NODATA", cursor.At(lineNumber));
            return;
        }

        var version = Field(line, tokens, layout, VpcField.Version);
        if (!IsAbsent(version) && !FlowTimestamps.TryParseUInt64(version, out _))
        {
            Reject(sink, cursor, lineNumber, $"version '{Short(version)}' is not a number", line);
            return;
        }

        var flow = new FlowRecord();
        string? error =
            ReadAddress(line, tokens, layout, VpcField.PktSrcAddr, VpcField.SrcAddr, "pkt-srcaddr", "srcaddr", out flow.SrcIp)
            ?? ReadAddress(line, tokens, layout, VpcField.PktDstAddr, VpcField.DstAddr, "pkt-dstaddr", "dstaddr", out flow.DstIp)
            ?? ReadPort(Field(line, tokens, layout, VpcField.SrcPort), "srcport", out flow.SrcPort)
            ?? ReadPort(Field(line, tokens, layout, VpcField.DstPort), "dstport", out flow.DstPort)
            ?? ReadProtocol(Field(line, tokens, layout, VpcField.Protocol), out flow.Protocol)
            ?? ReadCount(Field(line, tokens, layout, VpcField.Packets), "packets", out flow.Packets)
            ?? ReadCount(Field(line, tokens, layout, VpcField.Bytes), "bytes", out flow.Bytes)
            ?? (layout.HasTimes
                ? ReadTimes(Field(line, tokens, layout, VpcField.Start), Field(line, tokens, layout, VpcField.End), out flow.Start, out flow.End)
                : FileTime(layout, out flow.Start, out flow.End))
            ?? ReadAction(Field(line, tokens, layout, VpcField.Action), out flow.Verdict)
            ?? ReadTcpFlags(Field(line, tokens, layout, VpcField.TcpFlags), flow.Protocol, out flow.TcpFlags, out flow.HasTcpFlags);
        if (error is not null)
        {
            Reject(sink, cursor, lineNumber, error, line);
            return;
        }

        var reporter = Field(line, tokens, layout, VpcField.InterfaceId);
        if (IsAbsent(reporter)) reporter = Field(line, tokens, layout, VpcField.InstanceId);
        flow.Reporter = IsAbsent(reporter) ? null : state.Reporter(reporter);
        flow.Direction = DirectionHint.Unknown;
        sink.Accept(flow);
    }

    /// <summary>Splits at runs of spaces/tabs (AWS writes one space; tolerate doubled and trailing ones).</summary>
    private static int Tokenize(ReadOnlySpan<byte> line, Span<Range> tokens)
    {
        int count = 0, i = 0;
        while (i < line.Length)
        {
            while (i < line.Length && line[i] is (byte)' ' or (byte)'\t') i++;
            if (i == line.Length) break;
            int start = i;
            while (i < line.Length && line[i] is not ((byte)' ' or (byte)'\t')) i++;
            if (count == tokens.Length) return count; // caller reports "too many"
            tokens[count++] = new Range(start, i);
        }
        return count;
    }

    private static ReadOnlySpan<byte> Field(ReadOnlySpan<byte> line, ReadOnlySpan<Range> tokens, VpcFlowLogLayout layout, VpcField field)
    {
        int position = layout.PositionOf(field);
        return position < 0 ? "-"u8 : line[tokens[position]];
    }

    private static bool IsAbsent(ReadOnlySpan<byte> value) => value.Length == 1 && value[0] == '-';

    private static bool CarriesNoFlow(ReadOnlySpan<byte> line, ReadOnlySpan<Range> tokens, VpcFlowLogLayout layout)
    {
        bool anyFlowField = false;
        for (int i = 0; i < tokens.Length; i++)
        {
            switch (layout.Fields[i])
            {
                case VpcField.SrcAddr or VpcField.DstAddr or VpcField.PktSrcAddr or VpcField.PktDstAddr
                    or VpcField.SrcPort or VpcField.DstPort or VpcField.Protocol or VpcField.Packets or VpcField.Bytes:
                    if (!IsAbsent(line[tokens[i]])) return false;
                    anyFlowField = true;
                    break;
            }
        }
        return anyFlowField;
    }

    private static string? ReadAddress(ReadOnlySpan<byte> line, ReadOnlySpan<Range> tokens, VpcFlowLogLayout layout,
        VpcField packetField, VpcField interfaceField, string packetName, string interfaceName, out PackedIp ip)
    {
        ip = default;
        var packet = Field(line, tokens, layout, packetField);
        var onInterface = Field(line, tokens, layout, interfaceField);
        if (!IsAbsent(onInterface) && !PackedIp.TryParse(onInterface, out ip))
            return $"{interfaceName} '{Short(onInterface)}' is not an IP address";
        if (!IsAbsent(packet) && !PackedIp.TryParse(packet, out ip))
            return $"{packetName} '{Short(packet)}' is not an IP address";
        if (IsAbsent(packet) && IsAbsent(onInterface))
            return $"no {interfaceName} (or {packetName})";
        return null;
    }

    private static string? ReadPort(ReadOnlySpan<byte> value, string name, out ushort port)
    {
        port = 0;
        if (IsAbsent(value)) return null;
        if (!FlowTimestamps.TryParseUInt64(value, out ulong parsed) || parsed > ushort.MaxValue)
            return $"{name} '{Short(value)}' is not a port number";
        port = (ushort)parsed;
        return null;
    }

    private static string? ReadProtocol(ReadOnlySpan<byte> value, out byte protocol)
    {
        protocol = 0;
        if (IsAbsent(value)) return null;
        if (!FlowTimestamps.TryParseUInt64(value, out ulong parsed) || parsed > byte.MaxValue)
            return $"protocol '{Short(value)}' is not an IANA protocol number";
        protocol = (byte)parsed;
        return null;
    }

    private static string? ReadCount(ReadOnlySpan<byte> value, string name, out ulong count)
    {
        count = 0;
        if (IsAbsent(value)) return null;
        return FlowTimestamps.TryParseUInt64(value, out count) ? null : $"{name} '{Short(value)}' is not a count";
    }

    private static string? ReadTimes(ReadOnlySpan<byte> startText, ReadOnlySpan<byte> endText, out DateTime start, out DateTime end)
    {
        start = end = default;
        bool hasStart = !IsAbsent(startText), hasEnd = !IsAbsent(endText);
        if (hasStart && !(FlowTimestamps.TryParseUInt64(startText, out ulong s) && FlowTimestamps.TryFromUnixSeconds((long)Math.Min(s, long.MaxValue), out start)))
            return $"start '{Short(startText)}' is not a time in unix seconds";
        if (hasEnd && !(FlowTimestamps.TryParseUInt64(endText, out ulong e) && FlowTimestamps.TryFromUnixSeconds((long)Math.Min(e, long.MaxValue), out end)))
            return $"end '{Short(endText)}' is not a time in unix seconds";
        if (!hasStart && !hasEnd) return "no start or end time";
        if (!hasStart) start = end;
        if (!hasEnd) end = start;
        if (end < start) return "end is before start";
        return null;
    }

    /// <summary>A format without start/end: every record of the file has the time resolved for it, or none.</summary>
    private static string? FileTime(VpcFlowLogLayout layout, out DateTime start, out DateTime end)
    {
        if (layout.RecordTime is { } time)
        {
            start = end = time;
            return null;
        }
        start = end = default;
        layout.TimeMissing = true;
        return NoTimeReason;
    }

    /// <summary>Why a record of a format without start/end was rejected: the source gave no time for it.</summary>
    internal const string NoTimeReason = "no start or end field and no time for the records: " + VpcRecordTime.Remedy;

    /// <summary>
    /// For a file of a format without start/end: what time its records got (a sentence), or the error to stop on when
    /// none could be found. Both null for formats with times and other formats.
    /// </summary>
    internal static (string? Note, string? Problem) FileTimeStatus(object? cursorState) => cursorState switch
    {
        VpcSourceState { Layout.TimeMissing: true } => (null, VpcRecordTime.Remedy),
        VpcSourceState { Layout: { RecordTime: { } time } layout } => (VpcRecordTime.Describe(time, layout.TimeOrigin), null),
        _ => (null, null),
    };

    private static string? ReadAction(ReadOnlySpan<byte> value, out Verdict verdict)
    {
        verdict = Verdict.Unknown;
        if (IsAbsent(value)) return null;
        if (value.SequenceEqual("ACCEPT"u8)) verdict = Verdict.Allowed;
        else if (value.SequenceEqual("REJECT"u8)) verdict = Verdict.Denied;
        else return $"action '{Short(value)}' is not ACCEPT or REJECT";
        return null;
    }

    private static string? ReadTcpFlags(ReadOnlySpan<byte> value, byte protocol, out ushort flags, out bool hasFlags)
    {
        flags = 0;
        hasFlags = false;
        if (IsAbsent(value)) return null;
        if (!FlowTimestamps.TryParseUInt64(value, out ulong parsed) || parsed > ushort.MaxValue)
            return $"tcp-flags '{Short(value)}' is not a flag bitmask";
        // AWS writes 0 for non-TCP flows; only a TCP flow's flags mean anything.
        if (protocol == IpProtocols.Tcp)
        {
            flags = (ushort)parsed;
            hasFlags = true;
        }
        return null;
    }

    private static string Short(ReadOnlySpan<byte> value) => Excerpts.Of(value.Length > 40 ? value[..40] : value);
}

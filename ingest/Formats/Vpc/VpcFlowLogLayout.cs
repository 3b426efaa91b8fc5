using System.Collections.Frozen;

namespace FlowPolicy.Ingest.Formats.Vpc;

/// <summary>The VPC flow log fields the decoder reads; every other documented (or unknown) field is <see cref="Other"/>.</summary>
internal enum VpcField : byte
{
    Other = 0,
    Version,
    InterfaceId,
    InstanceId,
    SrcAddr,
    DstAddr,
    PktSrcAddr,
    PktDstAddr,
    SrcPort,
    DstPort,
    Protocol,
    Packets,
    Bytes,
    Start,
    End,
    Action,
    LogStatus,
    TcpFlags,
}

/// <summary>
/// The order of fields in VPC flow log records: the default v2 format, or a custom format read from the header
/// line AWS writes at the top of each S3 file. Built once per file and carried in its <see cref="VpcSourceState"/>.
/// </summary>
internal sealed class VpcFlowLogLayout
{
    /// <summary>More fields than AWS has ever defined (about 40 up to v8); guards the stack buffer of field ranges.</summary>
    public const int MaxFields = 96;

    private const int FieldKinds = (int)VpcField.TcpFlags + 1;

    /// <summary>Every field name AWS documents (versions 2 to 8). Only the ones mapped to a <see cref="VpcField"/> are read.</summary>
    private static readonly FrozenDictionary<string, VpcField> KnownNames = new Dictionary<string, VpcField>
    {
        ["version"] = VpcField.Version,
        ["account-id"] = VpcField.Other,
        ["interface-id"] = VpcField.InterfaceId,
        ["srcaddr"] = VpcField.SrcAddr,
        ["dstaddr"] = VpcField.DstAddr,
        ["srcport"] = VpcField.SrcPort,
        ["dstport"] = VpcField.DstPort,
        ["protocol"] = VpcField.Protocol,
        ["packets"] = VpcField.Packets,
        ["bytes"] = VpcField.Bytes,
        ["start"] = VpcField.Start,
        ["end"] = VpcField.End,
        ["action"] = VpcField.Action,
        ["log-status"] = VpcField.LogStatus,
        // v3
        ["vpc-id"] = VpcField.Other,
        ["subnet-id"] = VpcField.Other,
        ["instance-id"] = VpcField.InstanceId,
        ["tcp-flags"] = VpcField.TcpFlags,
        ["type"] = VpcField.Other,
        ["pkt-srcaddr"] = VpcField.PktSrcAddr,
        ["pkt-dstaddr"] = VpcField.PktDstAddr,
        // v4
        ["region"] = VpcField.Other,
        ["az-id"] = VpcField.Other,
        ["sublocation-type"] = VpcField.Other,
        ["sublocation-id"] = VpcField.Other,
        // v5
        ["pkt-src-aws-service"] = VpcField.Other,
        ["pkt-dst-aws-service"] = VpcField.Other,
        ["flow-direction"] = VpcField.Other, // relative to the interface, not request/reply: deliberately not read
        ["traffic-path"] = VpcField.Other,
        // v7 (ECS) and v8
        ["ecs-cluster-arn"] = VpcField.Other,
        ["ecs-cluster-name"] = VpcField.Other,
        ["ecs-container-instance-arn"] = VpcField.Other,
        ["ecs-container-instance-id"] = VpcField.Other,
        ["ecs-container-id"] = VpcField.Other,
        ["ecs-second-container-id"] = VpcField.Other,
        ["ecs-service-name"] = VpcField.Other,
        ["ecs-task-definition-arn"] = VpcField.Other,
        ["ecs-task-arn"] = VpcField.Other,
        ["ecs-task-id"] = VpcField.Other,
        ["reject-reason"] = VpcField.Other,
    }.ToFrozenDictionary(StringComparer.Ordinal);

    private static readonly FrozenDictionary<string, VpcField>.AlternateLookup<ReadOnlySpan<char>> KnownBySpan =
        KnownNames.GetAlternateLookup<ReadOnlySpan<char>>();

    /// <summary>The default format: all version 2 fields in the documented order.</summary>
    public static readonly VpcFlowLogLayout DefaultV2 = FromNames(
        ["version", "account-id", "interface-id", "srcaddr", "dstaddr", "srcport", "dstport", "protocol",
         "packets", "bytes", "start", "end", "action", "log-status"], isDefault: true);

    private readonly int[] _positions;

    private VpcFlowLogLayout(VpcField[] fields, bool isDefault)
    {
        Fields = fields;
        IsDefault = isDefault;
        _positions = new int[FieldKinds];
        Array.Fill(_positions, -1);
        for (int i = 0; i < fields.Length; i++)
            if (fields[i] != VpcField.Other && _positions[(int)fields[i]] < 0)
                _positions[(int)fields[i]] = i;
    }

    public VpcField[] Fields { get; }
    public int Count => Fields.Length;
    public bool IsDefault { get; }
    /// <summary>True when records carry their own time (a start or an end field).</summary>
    public bool HasTimes => Has(VpcField.Start) || Has(VpcField.End);

    /// <summary>For a format without start/end: the one time every record of this file gets, once resolved.</summary>
    public DateTime? RecordTime { get; private set; }
    public VpcTimeOrigin TimeOrigin { get; private set; }
    /// <summary>For a format without start/end: no time was given and the source's path holds none; records are rejected.</summary>
    public bool TimeMissing { get; set; }

    /// <summary>
    /// A copy for one file (a layout read from a header is one already) with the time of its records resolved from the
    /// given time or the file's delivery path. Only for formats without start/end.
    /// </summary>
    public VpcFlowLogLayout ForFile(DateTime? given, string source)
    {
        var layout = ReferenceEquals(this, DefaultV2) || _sharedAssumed ? new VpcFlowLogLayout(Fields, IsDefault) : this;
        if (VpcRecordTime.TryResolve(given, source, out var time, out var origin))
        {
            layout.RecordTime = time;
            layout.TimeOrigin = origin;
        }
        return layout;
    }

    /// <summary>Set on a layout a decoder holds for every source (configured, not read from a header): never give it per-file state.</summary>
    private bool _sharedAssumed;

    /// <summary>Marks this layout as shared by every source (a decoder's configured format).</summary>
    public VpcFlowLogLayout Shared()
    {
        _sharedAssumed = true;
        return this;
    }

    /// <summary>Index of <paramref name="field"/> in a record, or -1 when the format does not include it.</summary>
    public int PositionOf(VpcField field) => _positions[(int)field];

    public bool Has(VpcField field) => _positions[(int)field] >= 0;

    /// <summary>
    /// Parses a format given by configuration: field names separated by spaces, optionally written as AWS's
    /// LogFormat (<c>${version} ${srcaddr} ...</c>). Null when it names no known field.
    /// </summary>
    public static VpcFlowLogLayout? Parse(string format)
    {
        var names = format.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries)
            .Select(name => name.StartsWith("${", StringComparison.Ordinal) && name.EndsWith('}') ? name[2..^1] : name)
            .ToArray();
        if (names.Length == 0 || names.Length > MaxFields) return null;
        bool anyKnown = false;
        foreach (var name in names) anyKnown |= KnownNames.ContainsKey(Normalize(name));
        return anyKnown ? FromNames(names, isDefault: false) : null;
    }

    /// <summary>
    /// True when the tokens of a line are a header: every token is a field-name-like word (lowercase letter first;
    /// letters, digits, '-', '_') and at least one is a field AWS documents. Data never qualifies: it holds '-',
    /// numbers, addresses or upper-case words (ACCEPT, OK, IPv4) in the fields that make records useful.
    /// </summary>
    public static bool TryParseHeader(ReadOnlySpan<byte> line, ReadOnlySpan<Range> tokens, out VpcFlowLogLayout? layout)
    {
        layout = null;
        bool anyKnown = false;
        Span<char> chars = stackalloc char[40];
        foreach (var range in tokens)
        {
            var token = line[range];
            if (token.Length == 0 || (uint)(token[0] - 'a') > 'z' - 'a') return false;
            foreach (byte b in token)
                if (!((uint)(b - 'a') <= 'z' - 'a' || (uint)(b - '0') <= 9 || b == '-' || b == '_')) return false;
            if (!anyKnown && token.Length <= chars.Length)
            {
                for (int i = 0; i < token.Length; i++) chars[i] = token[i] == '_' ? '-' : (char)token[i];
                anyKnown = KnownBySpan.ContainsKey(chars[..token.Length]);
            }
        }
        if (!anyKnown) return false;
        var names = new string[tokens.Length];
        for (int i = 0; i < tokens.Length; i++) names[i] = System.Text.Encoding.ASCII.GetString(line[tokens[i]]);
        layout = FromNames(names, isDefault: false);
        return true;
    }

    private static string Normalize(string name) => name.Replace('_', '-');

    /// <summary>The field a name (hyphens or underscores) stands for; <see cref="VpcField.Other"/> for the ones not read and unknown names.</summary>
    public static VpcField FieldOf(string name) => KnownNames.GetValueOrDefault(Normalize(name), VpcField.Other);

    private static VpcFlowLogLayout FromNames(IReadOnlyList<string> names, bool isDefault)
    {
        var fields = new VpcField[names.Count];
        for (int i = 0; i < names.Count; i++)
            fields[i] = KnownNames.TryGetValue(Normalize(names[i]), out var field) ? field : VpcField.Other;
        return new VpcFlowLogLayout(fields, isDefault);
    }
}

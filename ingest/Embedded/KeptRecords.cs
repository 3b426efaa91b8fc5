using System.Runtime.CompilerServices;
using FlowPolicy.Core.Flows;
using FlowPolicy.Core.Net;

namespace FlowPolicy.Ingest.Embedded;

/// <summary>
/// One chunk's flow records as the embedded mode's first pass keeps them for the second: an array of structs without
/// references (the strings and identities a record points to sit in a small table of the chunk's distinct objects,
/// the records hold indexes). The garbage collector then never scans what was kept: with records holding references,
/// every full collection walked all of them, which cost more pause time than decoding them again saved.
/// </summary>
internal sealed class KeptRecords
{
    private const int None = -1;

    private readonly Packed[] _records;
    private readonly object[] _objects;

    private KeptRecords(Packed[] records, object[] objects)
    {
        _records = records;
        _objects = objects;
    }

    public int Count => _records.Length;

    /// <summary>About the bytes held: the records and the table (the objects are the decoders', shared).</summary>
    public long Bytes => (long)_records.Length * Unsafe.SizeOf<Packed>() + (long)_objects.Length * IntPtr.Size + 64;

    /// <param name="objects">Scratch for the table of distinct objects; cleared here, reusable by the caller.</param>
    public static KeptRecords From(ReadOnlySpan<FlowRecord> records, Dictionary<object, int> objects)
    {
        objects.Clear();
        var packed = GC.AllocateUninitializedArray<Packed>(records.Length);
        for (int i = 0; i < records.Length; i++)
        {
            ref readonly var r = ref records[i];
            packed[i] = new Packed
            {
                Start = r.Start, End = r.End, SrcIp = r.SrcIp, DstIp = r.DstIp, Bytes = r.Bytes, Packets = r.Packets,
                SrcPort = r.SrcPort, DstPort = r.DstPort, TcpFlags = r.TcpFlags, Protocol = r.Protocol, Verdict = r.Verdict,
                Direction = r.Direction, HasTcpFlags = r.HasTcpFlags,
                Reporter = Index(r.Reporter, objects), PolicyName = Index(r.PolicyName, objects),
                SrcIdentity = Index(r.SrcIdentity, objects), DstIdentity = Index(r.DstIdentity, objects),
            };
        }
        var table = new object[objects.Count];
        foreach (var (value, index) in objects) table[index] = value;
        return new KeptRecords(packed, table);
    }

    private static int Index(object? value, Dictionary<object, int> objects)
    {
        if (value is null) return None;
        ref int slot = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(objects, value, out bool exists);
        if (!exists) slot = objects.Count - 1;
        return slot;
    }

    public void Read(int index, out FlowRecord record)
    {
        ref readonly var p = ref _records[index];
        record = new FlowRecord
        {
            Start = p.Start, End = p.End, SrcIp = p.SrcIp, DstIp = p.DstIp, Bytes = p.Bytes, Packets = p.Packets,
            SrcPort = p.SrcPort, DstPort = p.DstPort, TcpFlags = p.TcpFlags, Protocol = p.Protocol, Verdict = p.Verdict,
            Direction = p.Direction, HasTcpFlags = p.HasTcpFlags,
            Reporter = (string?)Object(p.Reporter), PolicyName = (string?)Object(p.PolicyName),
            SrcIdentity = (WorkloadIdentity?)Object(p.SrcIdentity), DstIdentity = (WorkloadIdentity?)Object(p.DstIdentity),
        };
    }

    private object? Object(int index) => index == None ? null : _objects[index];

    /// <summary>Every field of <see cref="FlowRecord"/>, references as indexes into the chunk's table (a test checks each field comes back).</summary>
    private struct Packed
    {
        public DateTime Start;
        public DateTime End;
        public PackedIp SrcIp;
        public PackedIp DstIp;
        public ulong Bytes;
        public ulong Packets;
        public ushort SrcPort;
        public ushort DstPort;
        public ushort TcpFlags;
        public byte Protocol;
        public Verdict Verdict;
        public DirectionHint Direction;
        public bool HasTcpFlags;
        public int Reporter;
        public int PolicyName;
        public int SrcIdentity;
        public int DstIdentity;
    }
}

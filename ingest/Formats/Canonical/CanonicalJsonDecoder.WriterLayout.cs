using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using FlowPolicy.Core.Flows;
using FlowPolicy.Core.Net;
using FlowPolicy.Ingest.Formats.Internal;
using static FlowPolicy.Ingest.Formats.Internal.JsonLineScan;

namespace FlowPolicy.Ingest.Formats.Canonical;

// The layout CanonicalJsonWriter writes (its key order, no spaces), tried first as straight-line code; the general
// scanner (CanonicalJsonDecoder.Scanner.cs) also uses the writer's key order to predict the next key.
internal sealed partial class CanonicalJsonDecoder
{
    /// <summary>The keys in the order <see cref="CanonicalJsonWriter"/> writes them; the last five are optional.</summary>
    private static readonly Field[] WriterOrder =
    [
        Field.Start, Field.End, Field.SrcIp, Field.SrcPort, Field.DstIp, Field.DstPort, Field.Proto, Field.Bytes,
        Field.Packets, Field.Verdict, Field.Direction, Field.TcpFlags, Field.Reporter, Field.Policy, Field.Src, Field.Dst,
    ];

    /// <summary>Each of <see cref="WriterOrder"/> as written: quoted, with the colon.</summary>
    private static readonly WriterKey[] WriterKeys = WriterOrder.Select(field => new WriterKey(System.Text.Encoding.UTF8.GetBytes($"\"{KeyName(field)}\":"))).ToArray();

    /// <summary>Position of each field in <see cref="WriterOrder"/>.</summary>
    private static readonly int[] WriterIndex = Enumerable.Range(0, (int)Field.Dst + 1).Select(f => Array.IndexOf(WriterOrder, (Field)f)).ToArray();

    /// <summary>A key as one or two 8-byte words, so matching it is two loads and compares, not a call (keys are 6-12 bytes).</summary>
    private readonly struct WriterKey
    {
        public WriterKey(byte[] bytes)
        {
            Bytes = bytes;
            Length = bytes.Length;
            Span<byte> head = stackalloc byte[8];
            bytes.AsSpan(0, Math.Min(8, Length)).CopyTo(head);
            Head = MemoryMarshal.Read<ulong>(head);
            HeadMask = Length >= 8 ? ulong.MaxValue : (1UL << (8 * Length)) - 1;
            Tail = Length > 8 ? MemoryMarshal.Read<ulong>(bytes.AsSpan(Length - 8)) : 0;
        }

        public readonly byte[] Bytes;
        public readonly int Length;
        private readonly ulong Head, HeadMask, Tail;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public bool IsAt(ReadOnlySpan<byte> line, int i)
        {
            if (i > line.Length - 16) return line[i..].StartsWith(Bytes); // near the end of the line: no over-reading
            ref byte at = ref Unsafe.Add(ref MemoryMarshal.GetReference(line), i);
            if ((Unsafe.ReadUnaligned<ulong>(ref at) & HeadMask) != Head) return false;
            return Length <= 8 || Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref at, Length - 8)) == Tail;
        }
    }

    private static string KeyName(Field field) => field switch
    {
        Field.SrcIp => "src_ip",
        Field.DstIp => "dst_ip",
        Field.SrcPort => "src_port",
        Field.DstPort => "dst_port",
        Field.TcpFlags => "tcp_flags",
        _ => field.ToString().ToLowerInvariant(),
    };

    /// <summary>
    /// The exact layout <see cref="CanonicalJsonWriter"/> writes (its key order, no spaces), as straight-line code:
    /// no key dispatch, duplicate or null bookkeeping. The values go through the same readers as in the general
    /// loop. False as soon as anything differs; <see cref="TryScan"/> then starts over with the general loop.
    /// </summary>
    private static bool TryScanWriterLayout(ReadOnlySpan<byte> line, JsonDecodeState state, ref FlowRecord flow)
    {
        ulong number;
        ReadOnlySpan<byte> text;
        if (line.IsEmpty || line[0] != (byte)'{') return false;
        int i = Key(line, 1, 0, Field.Start);
        if (i < 0 || (i = ScanTime(line, i, state, out flow.Start)) < 0) return false;
        if ((i = Key(line, i, 1, Field.End)) < 0 || (i = ScanTime(line, i, state, out flow.End)) < 0) return false;
        if ((i = Key(line, i, 1, Field.SrcIp)) < 0 || (i = PlainString(line, i, out text)) < 0 || !PackedIp.TryParse(text, out flow.SrcIp)) return false;
        if ((i = Key(line, i, 1, Field.SrcPort)) < 0 || (i = UnsignedInteger(line, i, out number)) < 0 || number > 65535) return false;
        flow.SrcPort = (ushort)number;
        if ((i = Key(line, i, 1, Field.DstIp)) < 0 || (i = PlainString(line, i, out text)) < 0 || !PackedIp.TryParse(text, out flow.DstIp)) return false;
        if ((i = Key(line, i, 1, Field.DstPort)) < 0 || (i = UnsignedInteger(line, i, out number)) < 0 || number > 65535) return false;
        flow.DstPort = (ushort)number;
        if ((i = Key(line, i, 1, Field.Proto)) < 0 || (i = ScanValue(line, i, Field.Proto, state, ref flow)) < 0) return false;
        if ((i = Key(line, i, 1, Field.Bytes)) < 0 || (i = UnsignedInteger(line, i, out flow.Bytes)) < 0) return false;
        if ((i = Key(line, i, 1, Field.Packets)) < 0 || (i = UnsignedInteger(line, i, out flow.Packets)) < 0) return false;
        if ((i = Key(line, i, 1, Field.Verdict)) < 0 || (i = ScanValue(line, i, Field.Verdict, state, ref flow)) < 0) return false;
        if ((i = Key(line, i, 1, Field.Direction)) < 0 || (i = ScanValue(line, i, Field.Direction, state, ref flow)) < 0) return false;
        // Optional from here on, each at most once and in this order.
        int at;
        if ((at = Key(line, i, 1, Field.TcpFlags)) >= 0)
        {
            if ((i = UnsignedInteger(line, at, out number)) < 0 || number > 511) return false;
            flow.TcpFlags = (ushort)number;
            flow.HasTcpFlags = true;
        }
        if ((at = Key(line, i, 1, Field.Reporter)) >= 0 && (i = ScanValue(line, at, Field.Reporter, state, ref flow)) < 0) return false;
        if ((at = Key(line, i, 1, Field.Policy)) >= 0 && (i = ScanValue(line, at, Field.Policy, state, ref flow)) < 0) return false;
        if ((at = Key(line, i, 1, Field.Src)) >= 0 && (i = CachedIdentity(line, at, Field.Src, state, out flow.SrcIdentity)) < 0) return false;
        if ((at = Key(line, i, 1, Field.Dst)) >= 0 && (i = CachedIdentity(line, at, Field.Dst, state, out flow.DstIdentity)) < 0) return false;
        return i == line.Length - 1 && line[i] == (byte)'}' && flow.End >= flow.Start;
    }

    /// <summary>
    /// The writer's key for <paramref name="field"/> at <paramref name="i"/> (after a comma when
    /// <paramref name="comma"/> is 1): the offset of its value, or -1 (also when the line ends there).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Key(ReadOnlySpan<byte> line, int i, int comma, Field field)
    {
        if (comma != 0 && ((uint)i >= (uint)line.Length || line[i] != (byte)',')) return -1;
        i += comma;
        ref readonly var key = ref WriterKeys[WriterIndex[(int)field]];
        // The value readers expect at least one byte of value.
        return key.IsAt(line, i) && i + key.Length < line.Length ? i + key.Length : -1;
    }
}

using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace FlowPolicy.Ingest.Files;

/// <summary>
/// CRC-32 as gzip uses it (ISO-HDLC, reflected polynomial 0xEDB88320). Kept over System.IO.Hashing.Crc32, which was
/// not at least as fast in the same-run benchmark (benchmarks/README.md, GzipChecksum).
/// On x86 with PCLMULQDQ, 16-byte blocks are folded with carry-less multiplies (Intel's "Fast CRC Computation for
/// Generic Polynomials Using PCLMULQDQ", the constants zlib and Chromium use); the rest goes through slicing-by-8.
/// </summary>
internal static class GzipCrc32
{
    private static readonly uint[] Table = BuildTable();

    /// <summary>Continues <paramref name="crc"/> (0 to start) over <paramref name="data"/>.</summary>
    public static uint Append(uint crc, ReadOnlySpan<byte> data)
    {
        uint c = ~crc;
        if (Pclmulqdq.IsSupported && data.Length >= 64)
        {
            int folded = data.Length & ~15;
            c = Fold(data[..folded], c);
            data = data[folded..];
        }
        var t = Table;
        while (data.Length >= 8)
        {
            uint a = BinaryPrimitives.ReadUInt32LittleEndian(data) ^ c;
            uint b = BinaryPrimitives.ReadUInt32LittleEndian(data[4..]);
            c = t[7 * 256 + (a & 0xff)] ^ t[6 * 256 + ((a >> 8) & 0xff)] ^ t[5 * 256 + ((a >> 16) & 0xff)] ^ t[4 * 256 + (a >> 24)]
              ^ t[3 * 256 + (b & 0xff)] ^ t[2 * 256 + ((b >> 8) & 0xff)] ^ t[256 + ((b >> 16) & 0xff)] ^ t[b >> 24];
            data = data[8..];
        }
        foreach (byte x in data) c = t[(c ^ x) & 0xff] ^ (c >> 8);
        return ~c;
    }

    /// <summary>The CRC register (not inverted) over <paramref name="data"/>: 64 bytes or more, a multiple of 16.</summary>
    private static uint Fold(ReadOnlySpan<byte> data, uint c)
    {
        ref byte at = ref MemoryMarshal.GetReference(data);
        int length = data.Length;
        var x1 = Vector128.LoadUnsafe(ref at).AsUInt64() ^ Vector128.CreateScalar(c).AsUInt64();
        var x2 = Vector128.LoadUnsafe(ref at, 16).AsUInt64();
        var x3 = Vector128.LoadUnsafe(ref at, 32).AsUInt64();
        var x4 = Vector128.LoadUnsafe(ref at, 48).AsUInt64();
        nuint offset = 64;
        length -= 64;

        var k1k2 = Vector128.Create(0x0154442bd4UL, 0x01c6e41596UL);
        while (length >= 64)
        {
            x1 = FoldInto(x1, k1k2, Vector128.LoadUnsafe(ref at, offset).AsUInt64());
            x2 = FoldInto(x2, k1k2, Vector128.LoadUnsafe(ref at, offset + 16).AsUInt64());
            x3 = FoldInto(x3, k1k2, Vector128.LoadUnsafe(ref at, offset + 32).AsUInt64());
            x4 = FoldInto(x4, k1k2, Vector128.LoadUnsafe(ref at, offset + 48).AsUInt64());
            offset += 64;
            length -= 64;
        }

        var k3k4 = Vector128.Create(0x01751997d0UL, 0x00ccaa009eUL);
        x1 = FoldInto(x1, k3k4, x2);
        x1 = FoldInto(x1, k3k4, x3);
        x1 = FoldInto(x1, k3k4, x4);
        while (length >= 16)
        {
            x1 = FoldInto(x1, k3k4, Vector128.LoadUnsafe(ref at, offset).AsUInt64());
            offset += 16;
            length -= 16;
        }

        // 128 -> 64 bits, then Barrett reduction to 32.
        var low32 = Vector128.Create(~0u, 0, ~0u, 0).AsUInt64();
        x1 = Sse2.ShiftRightLogical128BitLane(x1, 8) ^ Pclmulqdq.CarrylessMultiply(x1, k3k4, 0x10);
        x1 = Pclmulqdq.CarrylessMultiply(x1 & low32, Vector128.Create(0x0163cd6124UL, 0UL), 0x00) ^ Sse2.ShiftRightLogical128BitLane(x1, 4);
        var poly = Vector128.Create(0x01db710641UL, 0x01f7011641UL);
        var x5 = Pclmulqdq.CarrylessMultiply(x1 & low32, poly, 0x10) & low32;
        x1 ^= Pclmulqdq.CarrylessMultiply(x5, poly, 0x00);
        return x1.AsUInt32().GetElement(1);
    }

    private static Vector128<ulong> FoldInto(Vector128<ulong> x, Vector128<ulong> k, Vector128<ulong> next) =>
        Pclmulqdq.CarrylessMultiply(x, k, 0x00) ^ Pclmulqdq.CarrylessMultiply(x, k, 0x11) ^ next;

    private static uint[] BuildTable()
    {
        var t = new uint[8 * 256];
        for (uint i = 0; i < 256; i++)
        {
            uint c = i;
            for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB88320 ^ (c >> 1) : c >> 1;
            t[i] = c;
        }
        for (int i = 0; i < 256; i++)
        {
            for (int s = 1; s < 8; s++) t[s * 256 + i] = (t[(s - 1) * 256 + i] >> 8) ^ t[t[(s - 1) * 256 + i] & 0xff];
        }
        return t;
    }
}

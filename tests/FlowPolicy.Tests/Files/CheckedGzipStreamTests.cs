using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using FlowPolicy.Ingest.Files;

namespace FlowPolicy.Tests.Files;

public sealed class CheckedGzipStreamTests
{
    [Theory]
    [InlineData(0, CompressionLevel.Optimal)]
    [InlineData(1, CompressionLevel.Fastest)]
    [InlineData(5_000, CompressionLevel.NoCompression)]
    [InlineData(300_000, CompressionLevel.Optimal)]
    [InlineData(300_000, CompressionLevel.NoCompression)]
    public void A_whole_member_decompresses_to_its_data(int length, CompressionLevel level)
    {
        var data = FlowLines(length, seed: length);
        Assert.Equal(data, Decompress(Gzip(data, level)));
    }

    [Fact]
    public void The_crc_matches_what_gzip_writers_put_in_the_trailer()
    {
        var random = new Random(3);
        for (int i = 0; i < 50; i++)
        {
            var data = new byte[random.Next(0, 5000)];
            random.NextBytes(data);
            var gz = Gzip(data, CompressionLevel.Fastest);
            Assert.Equal(BinaryPrimitives.ReadUInt32LittleEndian(gz.AsSpan(gz.Length - 8)), GzipCrc32.Append(0, data));
            // Appending in pieces gives the same value as one call.
            int split = random.Next(0, data.Length + 1);
            Assert.Equal(GzipCrc32.Append(0, data), GzipCrc32.Append(GzipCrc32.Append(0, data.AsSpan(0, split)), data.AsSpan(split)));
        }
    }

    [Fact]
    public void The_crc_matches_a_bitwise_reference_at_every_length_and_alignment()
    {
        // The carry-less-multiply path takes 64 bytes and up in 16-byte blocks; the table takes the rest.
        var random = new Random(5);
        var data = new byte[1200];
        random.NextBytes(data);
        for (int offset = 0; offset < 16; offset += 3)
        {
            for (int length = 0; length <= data.Length - offset; length += length < 300 ? 1 : 37)
            {
                var slice = data.AsSpan(offset, length);
                Assert.Equal(BitwiseCrc(0x12345678, slice), GzipCrc32.Append(0x12345678, slice));
            }
        }
    }

    private static uint BitwiseCrc(uint crc, ReadOnlySpan<byte> data)
    {
        uint c = ~crc;
        foreach (byte b in data)
        {
            c ^= b;
            for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB88320 ^ (c >> 1) : c >> 1;
        }
        return ~c;
    }

    [Fact]
    public void Concatenated_members_decompress_in_order()
    {
        // What `cat a.gz b.gz` and log shippers produce: members of every size, some larger than the stream's buffer.
        var random = new Random(11);
        var expected = new MemoryStream();
        var file = new MemoryStream();
        CompressionLevel[] levels = [CompressionLevel.Optimal, CompressionLevel.Fastest, CompressionLevel.NoCompression];
        for (int i = 0; i < 40; i++)
        {
            int length = i % 10 == 9 ? random.Next(100_000, 400_000) : random.Next(0, 20_000);
            var data = i % 3 == 0 ? FlowLines(length, seed: i) : RandomBytes(random, length);
            expected.Write(data);
            file.Write(Gzip(data, levels[i % levels.Length]));
        }
        Assert.Equal(expected.ToArray(), Decompress(file.ToArray()));
    }

    [Fact]
    public void Header_fields_are_skipped_and_the_header_crc_checked()
    {
        var data = FlowLines(10_000, seed: 5);
        var member = WithHeaderFields(Gzip(data, CompressionLevel.Optimal), extra: new byte[65_535], name: "flows.log", comment: "from s3", headerCrc: true);
        Assert.Equal(data.Concat(data), Decompress([.. member, .. member]));

        var broken = member.ToArray();
        int headerCrcAt = 10 + 2 + 65_535 + "flows.log".Length + 1 + "from s3".Length + 1;
        broken[headerCrcAt] ^= 0xff;
        var ex = Assert.Throws<InvalidDataException>(() => Decompress(broken));
        Assert.Contains("header CRC", ex.Message);
    }

    [Fact]
    public void A_cut_anywhere_is_reported_as_truncated_with_where_it_stopped()
    {
        var first = Gzip(FlowLines(3_000, seed: 1), CompressionLevel.Optimal);
        var second = WithHeaderFields(Gzip(FlowLines(2_000, seed: 2), CompressionLevel.NoCompression), extra: [1, 2, 3], name: "b.log", comment: null, headerCrc: true);
        int secondHeader = 10 + 2 + 3 + "b.log".Length + 1 + 2;
        byte[] file = [.. first, .. second];
        var expected = Decompress(file);
        for (int cut = 1; cut < file.Length; cut++)
        {
            if (cut == first.Length) continue; // a whole first member alone is a valid file
            bool inSecond = cut > first.Length;
            int memberStart = inSecond ? first.Length : 0;
            int headerLength = inSecond ? secondHeader : 10;
            int memberEnd = inSecond ? file.Length : first.Length;
            var expectedPart = cut - memberStart < headerLength ? GzipPart.Header
                : cut < memberEnd - 8 ? GzipPart.CompressedData
                : GzipPart.Trailer;

            var output = new MemoryStream();
            var ex = Assert.Throws<TruncatedGzipException>(() => Decompress(file.AsSpan(0, cut).ToArray(), output));
            Assert.True(ex.Part == expectedPart, $"cut at {cut}: {ex.Part}, expected {expectedPart}");
            Assert.Equal(inSecond ? 2 : 1, ex.Member);
            Assert.Equal(cut, ex.CompressedBytes);
            Assert.Equal(output.Length, ex.DecompressedBytes);
            // Everything handed out before the error is the real data, never garbage from past the cut.
            Assert.Equal(expected.AsSpan(0, (int)output.Length).ToArray(), output.ToArray());
        }
    }

    [Fact]
    public void A_trailer_that_does_not_match_the_data_is_corrupt_not_truncated()
    {
        var gz = Gzip(FlowLines(5_000, seed: 9), CompressionLevel.NoCompression);
        var badCrc = gz.ToArray();
        badCrc[^8] ^= 0x01;
        Assert.Contains("CRC-32", Assert.Throws<InvalidDataException>(() => Decompress(badCrc)).Message);

        // A changed byte in stored (uncompressed) data still inflates; only the CRC catches it.
        var badData = gz.ToArray();
        badData[gz.Length / 2] ^= 0x20;
        Assert.Throws<InvalidDataException>(() => Decompress(badData));
        Assert.Throws<InvalidDataException>(() => Decompress([.. badData, .. gz]));
    }

    [Fact]
    public void Zero_padding_after_the_last_member_is_ignored_and_other_trailing_bytes_are_an_error()
    {
        var data = FlowLines(2_000, seed: 4);
        var gz = Gzip(data, CompressionLevel.Optimal);
        Assert.Equal(data, Decompress([.. gz, .. new byte[100_000]]));
        var ex = Assert.Throws<InvalidDataException>(() => Decompress([.. gz, .. "garbage"u8]));
        Assert.Contains("not another gzip member", ex.Message);
    }

    internal static byte[] Decompress(byte[] file) => Decompress(file, new MemoryStream());

    private static byte[] Decompress(byte[] file, MemoryStream output)
    {
        // Odd read sizes, as the flow reader's refills are.
        using var gzip = new CheckedGzipStream(new MemoryStream(file));
        var buffer = new byte[7_777];
        int read;
        while ((read = gzip.Read(buffer)) > 0) output.Write(buffer, 0, read);
        return output.ToArray();
    }

    internal static byte[] Gzip(byte[] data, CompressionLevel level)
    {
        using var output = new MemoryStream();
        using (var gzip = new GZipStream(output, level)) gzip.Write(data);
        return output.ToArray();
    }

    /// <summary>Rewrites a plain 10-byte-header member with FEXTRA, FNAME, FCOMMENT and FHCRC as RFC 1952 lays them out.</summary>
    internal static byte[] WithHeaderFields(byte[] member, byte[]? extra, string? name, string? comment, bool headerCrc)
    {
        Assert.Equal(0, member[3]);
        var header = new MemoryStream();
        header.Write(member, 0, 10);
        byte flags = 0;
        if (extra is not null)
        {
            flags |= 0x04;
            header.WriteByte((byte)extra.Length);
            header.WriteByte((byte)(extra.Length >> 8));
            header.Write(extra);
        }
        if (name is not null)
        {
            flags |= 0x08;
            header.Write(Encoding.Latin1.GetBytes(name));
            header.WriteByte(0);
        }
        if (comment is not null)
        {
            flags |= 0x10;
            header.Write(Encoding.Latin1.GetBytes(comment));
            header.WriteByte(0);
        }
        if (headerCrc) flags |= 0x02;
        var bytes = header.ToArray();
        bytes[3] = flags;
        var result = new MemoryStream();
        result.Write(bytes);
        if (headerCrc)
        {
            uint crc = GzipCrc32.Append(0, bytes);
            result.WriteByte((byte)crc);
            result.WriteByte((byte)(crc >> 8));
        }
        result.Write(member, 10, member.Length - 10);
        return result.ToArray();
    }

    private static byte[] FlowLines(int length, int seed)
    {
        var random = new Random(seed);
        var text = new StringBuilder(length + 200);
        while (text.Length < length)
        {
            text.Append($"2 123456789010 eni-{random.Next():x8} 10.0.{random.Next(256)}.{random.Next(256)} 10.1.0.{random.Next(256)} ")
                .Append($"{random.Next(1024, 65535)} 443 6 {random.Next(1, 50)} {random.Next(40, 90000)} 1762077600 1762077660 ACCEPT OK\n");
        }
        return Encoding.ASCII.GetBytes(text.ToString(0, length));
    }

    private static byte[] RandomBytes(Random random, int length)
    {
        var bytes = new byte[length];
        random.NextBytes(bytes);
        return bytes;
    }
}

namespace FlowPolicy.Ingest.Formats;

/// <summary>
/// Tells the format of a payload from its first bytes. Each format has a field no other one has; the checks run
/// from the most specific marker to the least, because several formats share generic keys ("src_ip").
/// </summary>
public static class FlowFormatDetector
{
    /// <summary>How much of a file is looked at.</summary>
    public const int HeadBytes = 64 * 1024;

    public static FlowFormat? Detect(ReadOnlySpan<byte> head)
    {
        head = TrimStart(head);
        if (head.IsEmpty) return null;
        if (head[0] is (byte)'{' or (byte)'[')
            return DetectJson(head);
        return LooksLikeVpcText(head) ? FlowFormat.AwsVpc : null;
    }

    /// <summary>
    /// An Apache Parquet file: it starts (and ends) with the magic "PAR1". FlowPolicy reads Parquet as AWS VPC Flow Logs
    /// delivered to S3 in Parquet (docs/formats.md); it is a container, not a text format, so <see cref="Detect"/> does not
    /// return it: the file reader opens it from its footer.
    /// </summary>
    public static bool IsParquet(ReadOnlySpan<byte> head) => head.StartsWith("PAR1"u8);

    private static FlowFormat? DetectJson(ReadOnlySpan<byte> head)
    {
        if (Has(head, "\"flowTuples\"") || Has(head, "\"flowGroups\"") || Has(head, "\"flowRecords\"")
            || Has(head, "NetworkSecurityGroupFlowEvent") || Has(head, "FlowLogFlowEvent"))
            return FlowFormat.Azure;
        if (Has(head, "\"jsonPayload\"") || Has(head, "vpc_flows"))
            return FlowFormat.GcpVpc;
        if (Has(head, "\"src_addr\"") || Has(head, "\"SrcAddr\"") || Has(head, "\"sampler_address\"") || Has(head, "\"SamplerAddress\""))
            return FlowFormat.GoFlow2;
        if (Has(head, "\"IP\"") || Has(head, "\"node_name\"") || Has(head, "\"is_reply\"") || Has(head, "\"traffic_direction\""))
            return FlowFormat.Hubble;
        if (Has(head, "\"src_ip\"") && Has(head, "\"dst_ip\""))
            return FlowFormat.Canonical;
        return null;
    }

    /// <summary>A VPC header line ("version account-id ...") or a default-format record ("2 123456789012 eni-...").</summary>
    private static bool LooksLikeVpcText(ReadOnlySpan<byte> head)
    {
        int newline = head.IndexOf((byte)'\n');
        var line = newline < 0 ? head : head[..newline];
        if (Has(line, "srcaddr") && Has(line, "dstaddr")) return true;
        // Default v2 records: version, account, interface, then two addresses.
        int fields = 0;
        bool sawEni = false;
        foreach (var range in line.Split((byte)' '))
        {
            var field = line[range];
            if (field.IsEmpty) continue;
            if (fields == 2 && (field.StartsWith("eni-"u8) || field.SequenceEqual("-"u8))) sawEni = true;
            fields++;
        }
        return sawEni && fields >= 14;
    }

    private static bool Has(ReadOnlySpan<byte> haystack, string needle)
    {
        Span<byte> utf8 = stackalloc byte[needle.Length];
        for (int i = 0; i < needle.Length; i++) utf8[i] = (byte)needle[i];
        return haystack.IndexOf(utf8) >= 0;
    }

    private static ReadOnlySpan<byte> TrimStart(ReadOnlySpan<byte> span)
    {
        // A UTF-8 byte order mark, then white space.
        if (span.StartsWith("\uFEFF"u8)) span = span[3..];
        int i = 0;
        while (i < span.Length && span[i] is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n') i++;
        return span[i..];
    }
}

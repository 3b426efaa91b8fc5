namespace FlowPolicy.Ingest.Formats;

/// <summary>The flow log formats FlowPolicy reads. Names are what `--format` takes.</summary>
public enum FlowFormat : byte
{
    /// <summary>FlowPolicy's canonical JSON lines (README: "Canonical flow JSON").</summary>
    Canonical = 1,
    /// <summary>AWS VPC Flow Logs, text: default v2 or custom v3-v5 with a header line.</summary>
    AwsVpc = 2,
    /// <summary>Cilium Hubble JSON: `hubble observe -o json` / jsonpb lines and exporter files.</summary>
    Hubble = 3,
    /// <summary>GoFlow2 JSON lines (NetFlow / IPFIX / sFlow), v2 snake_case or v1 CamelCase.</summary>
    GoFlow2 = 4,
    /// <summary>GCP VPC Flow Logs: Cloud Logging LogEntry JSON (lines or an array).</summary>
    GcpVpc = 5,
    /// <summary>Azure NSG flow logs v1/v2 and VNet flow logs (JSON documents with records[]).</summary>
    Azure = 6,
}

public static class FlowFormats
{
    public static readonly IReadOnlyList<FlowFormat> All =
        [FlowFormat.Canonical, FlowFormat.AwsVpc, FlowFormat.Hubble, FlowFormat.GoFlow2, FlowFormat.GcpVpc, FlowFormat.Azure];

    public static string Name(FlowFormat format) => format switch
    {
        FlowFormat.Canonical => "canonical",
        FlowFormat.AwsVpc => "vpc",
        FlowFormat.Hubble => "hubble",
        FlowFormat.GoFlow2 => "goflow2",
        FlowFormat.GcpVpc => "gcp",
        FlowFormat.Azure => "azure",
        _ => format.ToString(),
    };

    public static bool TryParse(string? name, out FlowFormat format)
    {
        foreach (var candidate in All)
        {
            if (string.Equals(Name(candidate), name, StringComparison.OrdinalIgnoreCase))
            {
                format = candidate;
                return true;
            }
        }
        format = default;
        return false;
    }

    public static string NameList => string.Join(", ", All.Select(Name));
}

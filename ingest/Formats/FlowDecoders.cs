using FlowPolicy.Ingest.Formats.Azure;
using FlowPolicy.Ingest.Formats.Canonical;
using FlowPolicy.Ingest.Formats.Gcp;
using FlowPolicy.Ingest.Formats.GoFlow2;
using FlowPolicy.Ingest.Formats.Hubble;
using FlowPolicy.Ingest.Formats.Vpc;
namespace FlowPolicy.Ingest.Formats;

/// <summary>One decoder instance per format: decoders are stateless (state rides in the cursor), so they are shared.</summary>
public static class FlowDecoders
{
    private static readonly FlowDecoder Canonical = new CanonicalJsonDecoder();
    private static readonly FlowDecoder AwsVpc = new AwsVpcFlowLogDecoder();
    private static readonly FlowDecoder Hubble = new HubbleJsonDecoder();
    private static readonly FlowDecoder GoFlow2 = new GoFlow2JsonDecoder();
    private static readonly FlowDecoder GcpVpc = new GcpVpcFlowLogDecoder();
    private static readonly FlowDecoder Azure = new AzureFlowLogDecoder();

    public static FlowDecoder For(FlowFormat format) => format switch
    {
        FlowFormat.Canonical => Canonical,
        FlowFormat.AwsVpc => AwsVpc,
        FlowFormat.Hubble => Hubble,
        FlowFormat.GoFlow2 => GoFlow2,
        FlowFormat.GcpVpc => GcpVpc,
        FlowFormat.Azure => Azure,
        _ => throw new ArgumentOutOfRangeException(nameof(format), format, "unknown flow format"),
    };
}

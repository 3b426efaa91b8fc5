using System.Text;
using FlowPolicy.Core.Flows;
using FlowPolicy.Ingest.Formats;

namespace FlowPolicy.Tests.Formats;

/// <summary>Collects what a decoder emits, for the cloud format tests.</summary>
internal sealed class CloudRecordingSink : IFlowSink
{
    public List<FlowRecord> Accepted { get; } = [];
    public List<FlowDecodeError> Rejected { get; } = [];
    public List<(string Reason, SourcePosition Position)> Skipped { get; } = [];

    public void Accept(in FlowRecord flow) => Accepted.Add(flow);
    public void Reject(FlowDecodeError error) => Rejected.Add(error);
    public void Skip(string reason, SourcePosition position) => Skipped.Add((reason, position));

    public static CloudRecordingSink Decode(FlowDecoder decoder, string text, string source = "test.json", long firstLine = 1) =>
        Decode(decoder, Encoding.UTF8.GetBytes(text), out _, source, firstLine);

    public static CloudRecordingSink Decode(FlowDecoder decoder, byte[] payload, out DecodeCursor cursor, string source = "test.json", long firstLine = 1)
    {
        var sink = new CloudRecordingSink();
        cursor = new DecodeCursor(source, firstLine);
        decoder.Decode(payload, ref cursor, sink);
        return sink;
    }

    /// <summary>1-based line of the first occurrence of <paramref name="needle"/> in <paramref name="text"/>.</summary>
    public static long LineOf(string text, string needle, int occurrence = 1)
    {
        int index = -1;
        for (int i = 0; i < occurrence; i++)
        {
            index = text.IndexOf(needle, index + 1, StringComparison.Ordinal);
            if (index < 0) throw new ArgumentException($"'{needle}' not found {occurrence} times");
        }
        return text.AsSpan(0, index).Count('\n') + 1;
    }
}

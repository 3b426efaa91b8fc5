using System.Text;
using FlowPolicy.Core.Flows;
using FlowPolicy.Ingest.Formats;

namespace FlowPolicy.Tests.Formats;

/// <summary>Records everything a decoder reports, for the JSON line decoder tests.</summary>
internal sealed class JsonLineSink : IFlowSink
{
    public List<FlowRecord> Accepted { get; } = [];
    public List<FlowDecodeError> Rejected { get; } = [];
    public List<(string Reason, SourcePosition Position)> Skipped { get; } = [];

    public int Outcomes => Accepted.Count + Rejected.Count + Skipped.Count;

    public void Accept(in FlowRecord flow) => Accepted.Add(flow);
    public void Reject(FlowDecodeError error) => Rejected.Add(error);
    public void Skip(string reason, SourcePosition position) => Skipped.Add((reason, position));

    public static JsonLineSink Decode(FlowDecoder decoder, string text, string source = "test.jsonl")
    {
        var sink = new JsonLineSink();
        var cursor = new DecodeCursor(source);
        decoder.Decode(Encoding.UTF8.GetBytes(text), ref cursor, sink);
        return sink;
    }

    public FlowRecord Single()
    {
        Assert.True(Rejected.Count == 0, "unexpected rejects: " + string.Join("; ", Rejected));
        Assert.True(Skipped.Count == 0, "unexpected skips: " + string.Join("; ", Skipped.Select(s => s.Reason)));
        return Assert.Single(Accepted);
    }
}

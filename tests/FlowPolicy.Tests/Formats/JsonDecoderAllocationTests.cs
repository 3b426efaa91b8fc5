using System.Text;
using FlowPolicy.Core.Flows;
using FlowPolicy.Core.Net;
using FlowPolicy.Ingest.Formats;
using FlowPolicy.Ingest.Formats.Canonical;
using FlowPolicy.Ingest.Formats.Hubble;
using FlowPolicy.Tests.Support;

namespace FlowPolicy.Tests.Formats;

/// <summary>The JSON line decoders' steady state allocates nothing per record (identities and names are interned).</summary>
public sealed class JsonDecoderAllocationTests
{
    private sealed class CountingSink : IFlowSink
    {
        public int Accepted;
        public void Accept(in FlowRecord flow) => Accepted++;
        public void Reject(FlowDecodeError error) => throw new InvalidOperationException(error.ToString());
        public void Skip(string reason, SourcePosition position) => throw new InvalidOperationException(reason);
    }

    private static long BytesPerRecord(FlowDecoder decoder, string line)
    {
        var payload = Encoding.UTF8.GetBytes(string.Concat(Enumerable.Repeat(line + "\n", 1000)));
        var sink = new CountingSink();
        var cursor = new DecodeCursor("alloc.jsonl");
        decoder.Decode(payload, ref cursor, sink); // warm caches and JIT

        int passes = 1;
        long least = Allocations.LeastBytes(() =>
        {
            decoder.Decode(payload, ref cursor, sink);
            passes++;
        });

        Assert.Equal(1000 * passes, sink.Accepted);
        return least / 1000;
    }

    // IPv4 only: PackedIp.TryParse goes through IPAddress for IPv6 text, which allocates (core, not the decoders).
    [Fact]
    public void Canonical_decoding_allocates_nothing_per_record_once_warm()
    {
        var start = new DateTime(2026, 11, 1, 10, 0, 0, DateTimeKind.Utc);
        string line = CanonicalJsonWriter.ToLine(new FlowRecord
        {
            Start = start, End = start.AddSeconds(1), SrcIp = PackedIp.Parse("10.0.0.1"), DstIp = PackedIp.Parse("10.0.0.2"),
            SrcPort = 40000, DstPort = 443, Protocol = IpProtocols.Tcp, Verdict = Verdict.Allowed, Bytes = 10, Packets = 1,
            Reporter = "node-a", PolicyName = "shop/p",
            SrcIdentity = new WorkloadIdentity(EndpointKind.Pod, "shop", "web", "Deployment", "web-1", [new("app", "web")]),
        });
        Assert.Equal(0, BytesPerRecord(new CanonicalJsonDecoder(), line));
    }

    [Fact]
    public void Hubble_decoding_allocates_nothing_per_record_once_warm()
    {
        string line = """{"flow":{"time":"2026-11-01T10:11:12.123456789Z","verdict":"FORWARDED","IP":{"source":"10.244.1.15","destination":"10.244.2.20","ipVersion":"IPv4"},"l4":{"TCP":{"source_port":43512,"destination_port":8080,"flags":{"SYN":true}}},"source":{"ID":1234,"identity":51234,"namespace":"shop","labels":["k8s:app=frontend","k8s:io.kubernetes.pod.namespace=shop"],"pod_name":"frontend-1","workloads":[{"name":"frontend","kind":"Deployment"}]},"destination":{"identity":2,"labels":["reserved:world"]},"Type":"L3_L4","node_name":"kind-worker","traffic_direction":"EGRESS","is_reply":false,"egress_allowed_by":[{"name":"p","namespace":"shop","revision":"3"}]},"node_name":"kind-worker","time":"2026-11-01T10:11:12.123456789Z"}""";
        Assert.Equal(0, BytesPerRecord(new HubbleJsonDecoder(), line));
    }
}

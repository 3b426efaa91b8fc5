using System.Text;
using BenchmarkDotNet.Attributes;
using FlowPolicy.Benchmarks.Data;
using FlowPolicy.Core.Flows;
using FlowPolicy.Ingest.Formats;
using FlowPolicy.Ingest.Formats.Hubble;

namespace FlowPolicy.Benchmarks.Readers;

/// <summary>
/// The Hubble reader with L7 records against the same reader on the L3/L4-only payload (the baseline: what it read
/// before L7 existed), in one run: every record of the L7 payload is the L3/L4 record plus an <c>l7</c> object as
/// Cilium's proxy writes it (TCP: HTTP request or response with code; UDP: a DNS answer) and destination_names, so
/// this is the worst case, not a typical mix. The L7 sink keeps each observation's fields, as the aggregate does.
/// </summary>
public class HubbleL7Json
{
    private const int Records = BenchData.Records;
    private readonly HubbleJsonDecoder _decoder = new();
    private readonly L7CountingSink _plain = new();
    private readonly L7CountingSink _l7 = new();
    private byte[] _l3l4 = [];
    private byte[] _withL7 = [];

    [GlobalSetup]
    public void Setup()
    {
        _l3l4 = BenchData.Hubble();
        var text = new StringBuilder(_l3l4.Length * 2);
        int i = 0;
        foreach (var line in Encoding.UTF8.GetString(_l3l4).Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            bool udp = line.Contains("\"UDP\"", StringComparison.Ordinal);
            string l7 = udp
                ? "\"Type\":\"L7\",\"destination_names\":[\"api.example.com\"],\"l7\":{\"type\":\"RESPONSE\",\"dns\":{\"query\":\"api.example.com.\",\"ips\":[\"203.0.113.10\",\"203.0.113.11\"],\"ttl\":60,\"rcode\":0,\"qtypes\":[\"A\"],\"rrtypes\":[\"A\"],\"observation_source\":\"proxy\"}}"
                : i % 2 == 0
                    ? $"\"Type\":\"L7\",\"l7\":{{\"type\":\"REQUEST\",\"http\":{{\"method\":\"GET\",\"url\":\"http://catalog:8080/products/{i % 5000}?page=2\",\"protocol\":\"HTTP/1.1\",\"headers\":[{{\"key\":\"X-Request-Id\",\"value\":\"a{i}\"}}]}}}}"
                    : $"\"Type\":\"L7\",\"l7\":{{\"type\":\"RESPONSE\",\"latency_ns\":\"1200000\",\"http\":{{\"code\":200,\"method\":\"GET\",\"url\":\"http://catalog:8080/products/{i % 5000}?page=2\",\"protocol\":\"HTTP/1.1\"}}}}";
            text.Append(line.Replace("\"Type\":\"L3_L4\"", l7, StringComparison.Ordinal)).Append('\n');
            i++;
        }
        _withL7 = Encoding.UTF8.GetBytes(text.ToString());
        Run(_withL7, _l7);
        if (_l7.Accepted != Records || _l7.Observations != Records || _l7.Rejected != 0)
            throw new InvalidOperationException($"L7 payload: {_l7.Accepted} flows, {_l7.Observations} L7 observations of {Records}, {_l7.Rejected} rejected");
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Records, Description = "Hubble reader, L3/L4 records")]
    public long L3L4() => Run(_l3l4, _plain);

    [Benchmark(OperationsPerInvoke = Records, Description = "Hubble reader, every record with L7")]
    public long WithL7() => Run(_withL7, _l7);

    private long Run(byte[] payload, L7CountingSink sink)
    {
        sink.Reset();
        var cursor = new DecodeCursor("bench");
        _decoder.Decode(payload, ref cursor, sink);
        return sink.Accepted + sink.Observations;
    }

    private sealed class L7CountingSink : IFlowSink
    {
        public long Accepted, Rejected, Observations, Checksum;
        public void Accept(in FlowRecord flow) => Accepted++;
        public void Reject(FlowDecodeError error) => Rejected++;
        public void Skip(string reason, SourcePosition position) { }

        public void AcceptL7(in L7Observation observation, SourcePosition position)
        {
            Observations++;
            Checksum += (observation.Resource?.Length ?? 0) + observation.Status + (observation.Addresses?.Length ?? 0);
        }

        public void Reset() => Accepted = Rejected = Observations = 0;
    }
}

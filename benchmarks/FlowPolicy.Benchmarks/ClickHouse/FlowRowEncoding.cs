using System.Globalization;
using System.Text;
using BenchmarkDotNet.Attributes;
using FlowPolicy.Benchmarks.Data;
using FlowPolicy.ClickHouse.RowBinary;
using FlowPolicy.Core.Flows;

namespace FlowPolicy.Benchmarks.ClickHouse;

/// <summary>
/// Encoding enriched flows for an INSERT into the flows table. Baseline: TabSeparated text built with a
/// StringBuilder (what a hand-rolled HTTP insert does), same columns, then UTF-8 encoded as it would be sent.
/// </summary>
public class FlowRowEncoding
{
    private const int Rows = BenchData.Records;
    private FlowRecord[] _flows = [];
    private readonly RowBinaryWriter _buffer = new();
    private FlowRowWriter _writer = null!;
    private readonly StringBuilder _text = new(Rows * 300);
    private byte[] _utf8 = [];

    [GlobalSetup]
    public void Setup()
    {
        _flows = BenchData.Flows();
        _writer = new FlowRowWriter(_buffer);
        _utf8 = new byte[Rows * 600];
    }

    [GlobalCleanup]
    public void Cleanup() => _buffer.Dispose();

    [Benchmark(Baseline = true, OperationsPerInvoke = Rows, Description = "TabSeparated via StringBuilder")]
    public long TabSeparated()
    {
        var t = _text.Clear();
        var culture = CultureInfo.InvariantCulture;
        long offset = 0;
        foreach (ref readonly var f in _flows.AsSpan())
        {
            t.Append(f.Start.ToString("yyyy-MM-dd HH:mm:ss", culture)).Append('\t').Append(f.End.ToString("yyyy-MM-dd HH:mm:ss", culture)).Append('\t')
                .Append(f.SrcIp.ToString()).Append('\t').Append(f.DstIp.ToString()).Append('\t').Append(f.SrcPort).Append('\t').Append(f.DstPort).Append('\t')
                .Append(f.Protocol).Append('\t').Append(f.Bytes).Append('\t').Append(f.Packets).Append('\t').Append((int)f.Verdict).Append('\t')
                .Append((int)f.Direction).Append('\t');
            if (f.HasTcpFlags) t.Append(f.TcpFlags); else t.Append("\\N");
            t.Append('\t').Append(f.Reporter).Append('\t').Append(f.PolicyName).Append('\t');
            Endpoint(t, f.SrcIdentity);
            Endpoint(t, f.DstIdentity);
            t.Append("canonical\tflows\t0\t").Append(offset++).Append('\n');
        }
        return Encoding.UTF8.GetBytes(t.ToString(), _utf8);
    }

    private static void Endpoint(StringBuilder t, WorkloadIdentity? identity)
    {
        if (identity is null)
        {
            t.Append("0\t\t\t\t\t[]\t[]\t");
            return;
        }
        t.Append((int)identity.Kind).Append('\t').Append(identity.Namespace).Append('\t').Append(identity.Workload).Append('\t')
            .Append(identity.WorkloadKind).Append('\t').Append(identity.Name).Append("\t[")
            .AppendJoin(',', identity.Labels.Select(l => "'" + l.Key + "'")).Append("]\t[")
            .AppendJoin(',', identity.Labels.Select(l => "'" + l.Value + "'")).Append("]\t");
    }

    [Benchmark(OperationsPerInvoke = Rows, Description = "FlowRowWriter (RowBinary)")]
    public long RowBinary()
    {
        _writer.Reset();
        long offset = 0;
        foreach (ref readonly var f in _flows.AsSpan()) _writer.Write(f, "canonical", "flows", 0, offset++);
        return _buffer.Length;
    }

    /// <summary>
    /// The same, then the INSERT body in the table's sort-key order (what ingest sends: ClickHouse then skips sorting the
    /// block). The difference to <see cref="RowBinary"/> is the worker's price for that: ranking endpoints, sorting
    /// the keys, gathering the rows.
    /// </summary>
    [Benchmark(OperationsPerInvoke = Rows, Description = "FlowRowWriter + body in sort-key order")]
    public long RowBinarySorted()
    {
        _writer.Reset();
        long offset = 0;
        foreach (ref readonly var f in _flows.AsSpan()) _writer.Write(f, "canonical", "flows", 0, offset++);
        _writer.CopySortedToAsync(Stream.Null).AsTask().GetAwaiter().GetResult();
        return _buffer.Length;
    }
}

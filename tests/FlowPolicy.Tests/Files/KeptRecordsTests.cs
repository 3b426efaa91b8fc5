using System.Reflection;
using FlowPolicy.Core.Flows;
using FlowPolicy.Core.Net;
using FlowPolicy.Ingest.Embedded;

namespace FlowPolicy.Tests.Files;

/// <summary>The embedded mode's first pass keeps records packed (references as indexes): every field must come back.</summary>
public sealed class KeptRecordsTests
{
    private static readonly FieldInfo[] Fields = typeof(FlowRecord).GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic);

    private static FlowRecord Record(int n) => new()
    {
        Start = new DateTime(2026, 11, 1, 10, 0, n, DateTimeKind.Utc), End = new DateTime(2026, 11, 1, 10, 1, n, DateTimeKind.Utc),
        SrcIp = PackedIp.Parse($"10.0.0.{n + 1}"), DstIp = PackedIp.Parse($"fd00::{n + 2}"), SrcPort = (ushort)(40000 + n), DstPort = 443,
        Protocol = IpProtocols.Tcp, Verdict = Verdict.Denied, Direction = DirectionHint.Reply, HasTcpFlags = true, TcpFlags = 0x12,
        Bytes = 1000UL + (ulong)n, Packets = 7, Reporter = "node-" + n % 2, PolicyName = "shop/p" + n,
        SrcIdentity = new WorkloadIdentity(EndpointKind.Pod, "shop", "web", "Deployment", "web-" + n, [new("app", "web")]),
        DstIdentity = new WorkloadIdentity(EndpointKind.Service, "shop", "db", null, null, []),
    };

    [Fact]
    public void Every_field_of_a_record_comes_back_and_shared_objects_stay_shared()
    {
        // A field FlowRecord gains fails here until Record sets it, and then below until KeptRecords carries it.
        object sample = Record(1);
        foreach (var field in Fields)
        {
            var value = field.GetValue(sample);
            Assert.False(value is null || value.Equals(field.FieldType.IsValueType ? Activator.CreateInstance(field.FieldType) : null),
                $"Record leaves FlowRecord.{field.Name} at its default");
        }

        var records = new[] { Record(0), Record(1), default, Record(2) };
        records[3].SrcIdentity = records[0].SrcIdentity;
        var kept = KeptRecords.From(records, new Dictionary<object, int>(ReferenceEqualityComparer.Instance));
        Assert.Equal(records.Length, kept.Count);
        for (int i = 0; i < records.Length; i++)
        {
            kept.Read(i, out var back);
            foreach (var field in Fields)
            {
                object? expected = field.GetValue(records[i]), actual = field.GetValue(back);
                if (field.FieldType.IsValueType) Assert.Equal(expected, actual);
                else Assert.Same(expected, actual);
            }
        }
    }
}

using System.Globalization;
using System.Text;
using System.Text.Json;
using FlowPolicy.Core.Edges;
using FlowPolicy.Core.Flows;
using FlowPolicy.Core.Net;

namespace FlowPolicy.Tests.Edges;

public sealed class EdgeJsonTests
{
    private static readonly Endpoint Client = Endpoint.FromAddress(PackedIp.Parse("10.0.0.1"));
    private static readonly Endpoint Server = Endpoint.FromAddress(PackedIp.Parse("10.0.0.2"));

    [Fact]
    public void Times_are_written_as_the_general_formatter_writes_them()
    {
        var random = new Random(7);
        var times = new List<DateTime>
        {
            DateTime.MinValue, new(9999, 12, 31, 23, 59, 59, 999, DateTimeKind.Utc), new(2026, 1, 2, 3, 4, 5, DateTimeKind.Utc),
            new(1970, 1, 1, 0, 0, 0, DateTimeKind.Utc), new(2000, 2, 29, 12, 0, 9, DateTimeKind.Utc),
        };
        for (int i = 0; i < 2000; i++) times.Add(new DateTime(random.NextInt64(DateTime.MinValue.Ticks, DateTime.MaxValue.Ticks), DateTimeKind.Utc));
        for (int i = 0; i < times.Count; i++)
        {
            DateTime first = times[i], last = times[(i + 1) % times.Count];
            var edge = new Edge(Client, Server, 443, IpProtocols.Tcp) { FirstSeen = first, LastSeen = last };
            using var json = JsonDocument.Parse(Write(edge));
            Assert.Equal(first.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture), json.RootElement.GetProperty("first_seen").GetString());
            Assert.Equal(last.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture), json.RootElement.GetProperty("last_seen").GetString());
        }
    }

    [Fact]
    public void Array_items_written_through_JsonItemLine_are_one_line_each_and_read_back_as_the_indented_items()
    {
        var edges = Enumerable.Range(0, 50)
            .Select(i => new Edge(Client, Endpoint.FromAddress(PackedIp.Parse($"10.1.0.{i}")), (ushort)(8000 + i), IpProtocols.Tcp)
            {
                Flows = i, Bytes = (ulong)i * 100, FirstSeen = new DateTime(2026, 11, 2, 0, 0, i, DateTimeKind.Utc), LastSeen = new DateTime(2026, 11, 3, 0, 0, i, DateTimeKind.Utc),
            })
            .ToList();

        using var lines = new MemoryStream();
        using (var w = new Utf8JsonWriter(lines, new JsonWriterOptions { Indented = true }))
        {
            var line = new JsonItemLine();
            w.WriteStartObject();
            w.WriteStartObject("outer");
            w.WriteStartArray("edges");
            foreach (var edge in edges)
            {
                EdgeJson.Write(line.Start(w), edge);
                line.WriteTo(w);
            }
            w.WriteEndArray();
            w.WriteStartArray("empty");
            w.WriteEndArray();
            w.WriteEndObject();
            w.WriteEndObject();
        }
        using var indented = new MemoryStream();
        using (var w = new Utf8JsonWriter(indented, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteStartObject("outer");
            w.WriteStartArray("edges");
            foreach (var edge in edges) EdgeJson.Write(w, edge);
            w.WriteEndArray();
            w.WriteStartArray("empty");
            w.WriteEndArray();
            w.WriteEndObject();
            w.WriteEndObject();
        }

        var text = Encoding.UTF8.GetString(lines.ToArray());
        var itemLines = text.Split('\n').Where(l => l.Contains("\"src\"", StringComparison.Ordinal)).ToList();
        Assert.Equal(50, itemLines.Count);
        // Indented as the writer would have indented them (two levels of objects and the array: six spaces).
        Assert.All(itemLines, l => Assert.StartsWith("      {\"src\":", l, StringComparison.Ordinal));
        using var fromLines = JsonDocument.Parse(lines.ToArray());
        using var fromIndented = JsonDocument.Parse(indented.ToArray());
        Assert.True(JsonElement.DeepEquals(fromIndented.RootElement, fromLines.RootElement));
        Assert.True(lines.Length < indented.Length * 2 / 3, $"{lines.Length} bytes against {indented.Length} indented");
    }

    private static byte[] Write(Edge edge)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer)) EdgeJson.Write(w, edge);
        return buffer.ToArray();
    }
}

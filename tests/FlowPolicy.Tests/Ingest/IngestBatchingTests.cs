using System.Text;
using FlowPolicy.Core.Flows;
using FlowPolicy.Core.Net;
using FlowPolicy.Ingest.Formats;
using FlowPolicy.Ingest.Formats.Canonical;
using FlowPolicy.Ingest.Kafka;
using FlowPolicy.Ingest.Workers;

namespace FlowPolicy.Tests.Ingest;

/// <summary>Batching, day splitting and resume rules of the ingest workers, without servers.</summary>
public sealed class IngestBatchingTests
{
    private static FlowRecord Flow(DateTime start) => new()
    {
        Start = start, End = start, SrcIp = PackedIp.Parse("10.0.0.1"), DstIp = PackedIp.Parse("10.0.0.2"), SrcPort = 40000, DstPort = 80, Protocol = 6,
    };

    private static readonly DateTime Evening = new(2026, 11, 2, 23, 59, 0, DateTimeKind.Utc);

    [Fact]
    public void A_flow_of_another_utc_day_does_not_fit_a_batch_until_it_is_flushed()
    {
        using var batch = new LaneBatch(maxRows: 100);
        var before = Flow(Evening);
        var after = Flow(Evening.AddMinutes(2));
        batch.AddFlow(before, 20261102, "vpc", "t", 0, new RecordPosition(5, 0), isReply: false);

        Assert.True(batch.FitsFlow(20261102));
        Assert.False(batch.FitsFlow(20261103));
        Assert.Throws<InvalidOperationException>(() => batch.AddFlow(after, 20261103, "vpc", "t", 0, new RecordPosition(5, 1), false));

        batch.Reset();
        batch.AddFlow(after, 20261103, "vpc", "t", 0, new RecordPosition(5, 1), false);
        Assert.Equal(20261103, batch.Day);
        Assert.Equal(new RecordPosition(5, 1), batch.Spans[0].First);
    }

    [Fact]
    public void The_row_limit_closes_a_batch_so_every_insert_stays_one_block()
    {
        using var batch = new LaneBatch(maxRows: 3);
        for (uint i = 0; i < 3; i++) batch.AddFlow(Flow(Evening), 20261102, "vpc", "t", 0, new RecordPosition(1, i), false);
        Assert.True(batch.Full);
        Assert.False(batch.FitsFlow(20261102));
        Assert.Equal(new RecordPosition(1, 0), batch.Spans[0].First);
        Assert.Equal((0, new RecordPosition(1, 2)), batch.LastFlow);
        Assert.Throws<ArgumentException>(() => new IngestWorkerOptions { BatchRows = IngestWorkerOptions.MaxInsertBlockSize }.Validate());
    }

    [Fact]
    public void Dead_letters_of_one_batch_share_one_received_second_so_they_land_in_one_table_partition()
    {
        using var batch = new LaneBatch(maxRows: 10);
        var noon = new DateTime(2026, 11, 2, 12, 0, 0, 123, DateTimeKind.Utc);
        batch.AddDeadLetter(noon, "t", 0, new RecordPosition(1, 0), "vpc", "bad", "x", 2);
        batch.AddDeadLetter(noon.AddDays(1), "t", 3, new RecordPosition(2, 0), "vpc", "bad", "y", 3);
        Assert.Equal(new DateTime(2026, 11, 2, 12, 0, 0, DateTimeKind.Utc), batch.DeadLetterTime);
        Assert.Equal(2, batch.DeadLetterRows);
        Assert.Equal((3, new RecordPosition(2, 0)), batch.LastDeadLetter);
    }

    [Fact]
    public void One_batch_holds_rows_of_several_partitions_each_with_its_own_span_and_commit_hint()
    {
        using var batch = new LaneBatch(maxRows: 10);
        batch.AddFlow(Flow(Evening), 20261102, "vpc", "t", 4, new RecordPosition(7, 0), false);
        batch.AddFlow(Flow(Evening), 20261102, "vpc", "t", 9, new RecordPosition(100, 0), false);
        batch.AddFlow(Flow(Evening), 20261102, "vpc", "t", 4, new RecordPosition(8, 1), false);
        batch.CompleteMessage(4, 7, bytes: 300);

        Assert.Equal([4, 9], batch.Spans.Keys.Order());
        var span = batch.Spans[4];
        Assert.Equal((new RecordPosition(7, 0), new RecordPosition(8, 1), 2, 0, 300L, 7L),
            (span.First, span.Last, span.FlowRows, span.DeadLetterRows, span.Bytes, span.CompleteThrough));
        // Partition 9's message is not complete yet: its hint stays at the message itself.
        Assert.Equal(99, batch.Spans[9].CompleteThrough);
    }

    [Fact]
    public void A_partition_never_joins_a_batch_older_than_the_newest_one_holding_its_rows()
    {
        using var batches = new LaneBatches(maxRows: 100, maxOpen: 3);
        uint index = 0;
        LaneBatch Place(int partition, int day)
        {
            var batch = batches.ForFlow(partition, day)!;
            batch.AddFlow(Flow(Evening), day, "vpc", "t", partition, new RecordPosition(1, index++), false);
            return batch;
        }
        var day1 = Place(partition: 0, day: 1);
        var day2 = Place(partition: 0, day: 2);
        Assert.NotSame(day1, day2);
        // Partition 1 may still join the older day-1 batch ...
        Assert.Same(day1, Place(partition: 1, day: 1));
        // ... but partition 0, whose rows already reach the day-2 batch, gets a new day-1 batch after it.
        var late = Place(partition: 0, day: 1);
        Assert.NotSame(day1, late);
        Assert.True(late.Sequence > day2.Sequence);
        // Three are open: a fourth needs the oldest stored first.
        Assert.Null(batches.ForFlow(partition: 2, day: 3));
        Assert.Same(day1, batches.TakeOldest());
        Place(partition: 2, day: 3);
        // Dead letters join the newest batch, which is after every batch of every partition.
        Assert.Same(batches.Open[^1], batches.ForDeadLetter(partition: 0));
    }

    [Fact]
    public void Resume_seeks_to_the_message_of_the_highest_stored_flow_and_skips_what_each_table_holds()
    {
        Assert.Null(ResumePoint.Empty.SeekOffset);
        Assert.False(ResumePoint.Empty.FlowStored(new RecordPosition(0, 0)));

        var point = new ResumePoint(Flows: new RecordPosition(40, 7), DeadLetters: new RecordPosition(41, 2));
        Assert.Equal(40, point.SeekOffset);
        Assert.True(point.FlowStored(new RecordPosition(40, 7)));
        Assert.False(point.FlowStored(new RecordPosition(40, 8)));
        Assert.True(point.DeadLetterStored(new RecordPosition(41, 2)));
        Assert.False(point.DeadLetterStored(new RecordPosition(41, 3)));
        // Only dead letters stored: start of the partition, dead letters skipped by position.
        Assert.Null(new ResumePoint(null, new RecordPosition(9, 0)).SeekOffset);
    }

    /// <summary>
    /// The lane's batching with the real <see cref="LaneBatches"/>: four partitions interleaved, messages of flows
    /// (whose days move forward and sometimes back, as late records do), rejects and L7 observations (their own index
    /// sequence, added after the message's flows, as the lane does), small batches, few open batches, stores in batch
    /// order with dead letters, then L7 rows, then flows, and a crash after every single INSERT in turn. After each
    /// crash every partition resumes from what "ClickHouse" holds. Every record must end up stored exactly once.
    /// </summary>
    [Theory]
    [InlineData(7, 3, 2)]
    [InlineData(11, 2, 3)]
    [InlineData(13, 5, 4)]
    public void Resuming_after_a_crash_at_any_insert_stores_every_record_of_every_partition_exactly_once(int seed, int maxRows, int maxOpen)
    {
        const int partitions = 4;
        var random = new Random(seed);
        var messages = new List<(RowKind Kind, int Day)>[partitions][];
        for (int p = 0; p < partitions; p++)
        {
            int day = 5;
            messages[p] = new List<(RowKind, int)>[30];
            for (int m = 0; m < messages[p].Length; m++)
            {
                var items = new List<(RowKind, int)>();
                int count = random.Next(0, 6);
                for (int i = 0; i < count; i++)
                {
                    int roll = random.Next(20);
                    if (roll == 0) day++;
                    else if (roll == 1) day--;
                    items.Add((random.Next(5) == 0 ? RowKind.Reject : random.Next(3) == 0 ? RowKind.L7 : RowKind.Flow, day));
                }
                messages[p][m] = items;
            }
        }
        // The order the lane sees messages in: partitions interleaved, each in offset order.
        var order = new List<int>();
        for (int p = 0; p < partitions; p++) order.AddRange(Enumerable.Repeat(p, messages[p].Length));
        order = order.OrderBy(_ => random.Next()).ToList();
        int Expected(RowKind kind) => messages.Sum(ms => ms.Sum(m => m.Count(i => i.Kind == kind)));

        int crashes = 0;
        for (int crashAfter = 1; ; crashAfter++)
        {
            var stored = new Dictionary<RowKind, List<(int, RecordPosition)>> { [RowKind.Flow] = [], [RowKind.Reject] = [], [RowKind.L7] = [] };
            int inserts = 0;
            bool crashed = RunLane(messages, order, new ResumePoint[partitions], stored, maxRows, maxOpen, () => ++inserts == crashAfter);
            if (!crashed) break;
            crashes++;
            var resume = new ResumePoint[partitions];
            for (int p = 0; p < partitions; p++)
            {
                RecordPosition? Highest(RowKind kind) => stored[kind].Where(r => r.Item1 == p).Select(r => (RecordPosition?)r.Item2).Max();
                resume[p] = new ResumePoint(Highest(RowKind.Flow), Highest(RowKind.Reject), Highest(RowKind.L7));
            }
            Assert.False(RunLane(messages, order, resume, stored, maxRows, maxOpen, () => false));
            foreach (var kind in new[] { RowKind.Flow, RowKind.Reject, RowKind.L7 })
            {
                Assert.Equal(Expected(kind), stored[kind].Count);
                Assert.Equal(stored[kind].Count, stored[kind].Distinct().Count());
            }
        }
        Assert.True(crashes > 20, $"only {crashes} crash points");
        Assert.True(Expected(RowKind.L7) > 20, "L7 rows in the messages");
    }

    private enum RowKind { Flow, Reject, L7 }

    /// <summary>Runs the lane from <paramref name="resume"/>; returns true when it crashed.</summary>
    private static bool RunLane(List<(RowKind Kind, int Day)>[][] messages, List<int> order, ResumePoint[] resume,
        Dictionary<RowKind, List<(int, RecordPosition)>> stored, int maxRows, int maxOpen, Func<bool> crash)
    {
        using var batches = new LaneBatches(maxRows, maxOpen);
        var rows = new Dictionary<LaneBatch, List<(RowKind Kind, int Partition, RecordPosition Position)>>();
        var flow = Flow(Evening);
        List<(RowKind Kind, int Partition, RecordPosition Position)> RowsOf(LaneBatch batch) =>
            rows.TryGetValue(batch, out var list) ? list : rows[batch] = [];
        bool StoreOldest()
        {
            var batch = batches.TakeOldest()!;
            var held = RowsOf(batch);
            foreach (var (kind, count) in new[] { (RowKind.Reject, batch.DeadLetterRows), (RowKind.L7, batch.L7Rows), (RowKind.Flow, batch.FlowRows) })
            {
                if (count == 0) continue;
                stored[kind].AddRange(held.Where(r => r.Kind == kind).Select(r => (r.Partition, r.Position)));
                if (crash()) return true;
            }
            held.Clear();
            batches.Return(batch);
            return false;
        }
        var next = new int[resume.Length];
        for (int p = 0; p < resume.Length; p++) next[p] = (int)(resume[p].SeekOffset ?? 0);
        var seen = new int[resume.Length];
        foreach (int p in order)
        {
            int offset = seen[p]++;
            if (offset < next[p]) continue;
            // Flows and rejects share one index sequence; the message's L7 rows come after them with their own.
            var items = messages[p][offset];
            var sequence = items.Where(i => i.Kind != RowKind.L7).Select((item, index) => (item.Kind, item.Day, Index: (uint)index))
                .Concat(items.Where(i => i.Kind == RowKind.L7).Select((item, index) => (item.Kind, item.Day, Index: (uint)index)));
            foreach (var (kind, day, index) in sequence)
            {
                var position = new RecordPosition(offset, index);
                bool already = kind switch
                {
                    RowKind.Flow => resume[p].FlowStored(position),
                    RowKind.Reject => resume[p].DeadLetterStored(position),
                    _ => resume[p].L7Stored(position),
                };
                if (already) continue;
                LaneBatch? batch;
                while ((batch = kind == RowKind.Reject ? batches.ForDeadLetter(p) : batches.ForFlow(p, day)) is null)
                    if (StoreOldest()) return true;
                if (kind == RowKind.Flow) batch.AddFlow(flow, day, "vpc", "t", p, position, false);
                else if (kind == RowKind.L7) batch.AddL7(flow, default, L7Protocol.Http, "/users/{id}", "/users/1", day, "t", p, position);
                else batch.AddDeadLetter(Evening, "t", p, position, "vpc", "bad", "x", 1);
                RowsOf(batch).Add((kind, p, position));
                if (batch.Full)
                    while (batches.IsOpen(batch))
                        if (StoreOldest()) return true;
            }
        }
        while (batches.Open.Count > 0)
            if (StoreOldest()) return true;
        return false;
    }

    [Fact]
    public void Records_and_rejects_of_one_message_share_one_index_sequence_and_get_the_same_indexes_when_read_again()
    {
        var payload = Encoding.UTF8.GetBytes(
            "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status\n" +
            "3 1 eni-1 10.0.0.1 10.0.0.2 40000 80 6 1 100 1793577657 1793577717 ACCEPT OK\n" +
            "3 1 eni-1 not-an-ip 10.0.0.2 40000 80 6 1 100 1793577657 1793577717 ACCEPT OK\n" +
            "3 1 eni-1 10.0.0.3 10.0.0.2 40001 80 6 1 100 1793577657 1793577717 ACCEPT OK\n");
        var decoder = new MessageDecoder();
        decoder.Decode(payload, "flows");
        Assert.Equal(FlowFormat.AwsVpc, decoder.Format);
        Assert.Equal([0u, 2u], decoder.FlowIndexes.ToArray());
        Assert.Equal(1u, Assert.Single(decoder.Rejects).Index);
        Assert.Equal(3, Assert.Single(decoder.Rejects).Error.Position.Line);

        decoder.Decode(payload, "flows");
        Assert.Equal([0u, 2u], decoder.FlowIndexes.ToArray());
        Assert.Equal("10.0.0.3", decoder.Flows[1].SrcIp.ToString());
    }

    [Fact]
    public void One_record_messages_reuse_the_json_caches_so_decoding_them_allocates_almost_nothing()
    {
        // A Kafka message per flow is the common collector shape: per-message decode state would cost kilobytes each.
        var start = new DateTime(2026, 11, 1, 10, 0, 0, DateTimeKind.Utc);
        var payload = Encoding.UTF8.GetBytes(CanonicalJsonWriter.ToLine(new FlowRecord
        {
            Start = start, End = start.AddSeconds(1), SrcIp = PackedIp.Parse("10.0.0.1"), DstIp = PackedIp.Parse("10.0.0.2"),
            SrcPort = 40000, DstPort = 443, Protocol = IpProtocols.Tcp, Verdict = Verdict.Allowed, Bytes = 10, Packets = 1,
            Reporter = "node-a", PolicyName = "shop/p",
            SrcIdentity = new WorkloadIdentity(EndpointKind.Pod, "shop", "web", "Deployment", "web-1", [new("app", "web")]),
        }));
        var decoder = new MessageDecoder();
        for (int i = 0; i < 100; i++) decoder.Decode(payload, "flows");
        var first = decoder.Flows[0];

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1000; i++) decoder.Decode(payload, "flows");
        long perMessage = (GC.GetAllocatedBytesForCurrentThread() - before) / 1000;

        Assert.True(perMessage < 64, $"{perMessage} bytes allocated per message");
        Assert.Equal(FlowFormat.Canonical, decoder.Format);
        Assert.Equal(first, decoder.Flows[0]);
        Assert.Same(first.SrcIdentity, decoder.Flows[0].SrcIdentity);
    }

    [Fact]
    public void A_message_in_no_known_format_is_one_reject_and_a_blank_one_is_skipped()
    {
        var decoder = new MessageDecoder();
        decoder.Decode("hello, not a flow"u8, "flows");
        Assert.Null(decoder.Format);
        Assert.Equal(0, decoder.FlowCount);
        Assert.Contains("unknown flow format", Assert.Single(decoder.Rejects).Error.Reason);

        decoder.Decode(" \n"u8, "flows");
        Assert.Empty(decoder.Rejects);
        Assert.Equal(1, decoder.Skipped);
    }

    [Fact]
    public void Days_whose_flows_changed_after_their_rollup_was_written_are_stale()
    {
        var t = new DateTime(2026, 11, 2, 12, 0, 0, DateTimeKind.Utc);
        var margin = TimeSpan.FromSeconds(60);
        var stale = EdgeRollupJob.StaleDays(
        [
            (new DateOnly(2026, 11, 1), t, null),                       // never rolled up
            (new DateOnly(2026, 11, 2), t, t.AddSeconds(30)),           // rollup written within the margin: may have missed rows
            (new DateOnly(2026, 11, 3), t, t.AddMinutes(5)),            // rollup well after the last insert
            (new DateOnly(2026, 11, 4), t.AddMinutes(10), t.AddMinutes(5)), // rows inserted after the rollup
        ], margin);
        Assert.Equal([new DateOnly(2026, 11, 1), new DateOnly(2026, 11, 2), new DateOnly(2026, 11, 4)], stale);
    }

    [Fact]
    public void Vpc_files_with_a_header_line_are_recognised_for_header_prefixed_batches()
    {
        Assert.True(FlowFileProducer.StartsWithVpcHeader("version account-id interface-id srcaddr dstaddr srcport\n3 1 eni"u8));
        Assert.True(FlowFileProducer.StartsWithVpcHeader("srcaddr dstaddr srcport dstport\n"u8));
        Assert.False(FlowFileProducer.StartsWithVpcHeader("2 123456789012 eni-1 10.0.0.1 10.0.0.2 1 2 6 1 1 1 2 ACCEPT OK\n"u8));
        Assert.False(FlowFileProducer.StartsWithVpcHeader("{\"srcaddr\": 1, \"dstaddr\": 2}"u8));
    }
}

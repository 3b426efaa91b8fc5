using System.Text;
using FlowPolicy.Core.Flows;
using FlowPolicy.Core.Net;
using FlowPolicy.Ingest.Formats;
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
        using var batch = new PartitionBatch(maxRows: 100);
        var before = Flow(Evening);
        var after = Flow(Evening.AddMinutes(2));
        batch.AddFlow(before, 20261102, "vpc", "t", 0, new RecordPosition(5, 0), isReply: false);

        Assert.True(batch.FitsFlow(20261102));
        Assert.False(batch.FitsFlow(20261103));
        Assert.Throws<InvalidOperationException>(() => batch.AddFlow(after, 20261103, "vpc", "t", 0, new RecordPosition(5, 1), false));

        batch.Reset();
        batch.AddFlow(after, 20261103, "vpc", "t", 0, new RecordPosition(5, 1), false);
        Assert.Equal(20261103, batch.Day);
        Assert.Equal(new RecordPosition(5, 1), batch.First);
    }

    [Fact]
    public void The_row_limit_closes_a_batch_so_every_insert_stays_one_block()
    {
        using var batch = new PartitionBatch(maxRows: 3);
        for (uint i = 0; i < 3; i++) batch.AddFlow(Flow(Evening), 20261102, "vpc", "t", 0, new RecordPosition(1, i), false);
        Assert.True(batch.Full);
        Assert.False(batch.FitsFlow(20261102));
        Assert.Equal(new RecordPosition(1, 0), batch.First);
        Assert.Equal(new RecordPosition(1, 2), batch.LastFlow);
        Assert.Throws<ArgumentException>(() => new IngestWorkerOptions { BatchRows = IngestWorkerOptions.MaxInsertBlockSize }.Validate());
    }

    [Fact]
    public void Dead_letters_of_one_batch_share_one_received_second_so_they_land_in_one_table_partition()
    {
        using var batch = new PartitionBatch(maxRows: 10);
        var noon = new DateTime(2026, 11, 2, 12, 0, 0, 123, DateTimeKind.Utc);
        batch.AddDeadLetter(noon, "t", 0, new RecordPosition(1, 0), "vpc", "bad", "x", 2);
        batch.AddDeadLetter(noon.AddDays(1), "t", 0, new RecordPosition(2, 0), "vpc", "bad", "y", 3);
        Assert.Equal(new DateTime(2026, 11, 2, 12, 0, 0, DateTimeKind.Utc), batch.DeadLetterTime);
        Assert.Equal(2, batch.DeadLetterRows);
        Assert.Equal(new RecordPosition(2, 0), batch.LastDeadLetter);
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
    /// A model of the lane: messages of flows (with days) and rejects, batched per the worker's rules (day split,
    /// row limit, dead letters inserted before flows), with a crash after every single INSERT in turn. After each
    /// crash the run resumes from what "ClickHouse" holds. Every record must end up stored exactly once.
    /// </summary>
    [Fact]
    public void Resuming_after_a_crash_at_any_insert_stores_every_record_exactly_once()
    {
        var random = new Random(7);
        var messages = new List<List<(bool Flow, int Day)>>();
        int day = 1;
        for (int m = 0; m < 60; m++)
        {
            var items = new List<(bool, int)>();
            int count = random.Next(0, 6);
            for (int i = 0; i < count; i++)
            {
                if (random.Next(10) == 0) day++;
                items.Add((random.Next(5) != 0, day));
            }
            messages.Add(items);
        }
        int expectedFlows = messages.Sum(m => m.Count(i => i.Flow)), expectedRejects = messages.Sum(m => m.Count(i => !i.Flow));

        for (int crashAfter = 1; crashAfter < 200; crashAfter++)
        {
            var flows = new List<RecordPosition>();
            var deadLetters = new List<RecordPosition>();
            int inserts = 0;
            bool crashed = Run(messages, ResumePoint.Empty, flows, deadLetters, () => ++inserts == crashAfter);
            if (!crashed) break;
            var resume = new ResumePoint(flows.Count == 0 ? null : flows.Max(), deadLetters.Count == 0 ? null : deadLetters.Max());
            Assert.False(Run(messages, resume, flows, deadLetters, () => false));
            Assert.Equal(expectedFlows, flows.Count);
            Assert.Equal(expectedRejects, deadLetters.Count);
            Assert.Equal(flows.Count, flows.Distinct().Count());
            Assert.Equal(deadLetters.Count, deadLetters.Distinct().Count());
        }
    }

    /// <summary>Runs the model from <paramref name="resume"/>; returns true when it crashed.</summary>
    private static bool Run(List<List<(bool Flow, int Day)>> messages, ResumePoint resume, List<RecordPosition> flows, List<RecordPosition> deadLetters, Func<bool> crash)
    {
        const int maxRows = 3;
        var batchFlows = new List<RecordPosition>();
        var batchDead = new List<RecordPosition>();
        int batchDay = 0;
        bool Flush()
        {
            if (batchDead.Count > 0)
            {
                deadLetters.AddRange(batchDead);
                if (crash()) return true;
            }
            if (batchFlows.Count > 0)
            {
                flows.AddRange(batchFlows);
                if (crash()) return true;
            }
            batchFlows.Clear();
            batchDead.Clear();
            return false;
        }
        for (int offset = (int)(resume.SeekOffset ?? 0); offset < messages.Count; offset++)
        {
            for (int index = 0; index < messages[offset].Count; index++)
            {
                var (isFlow, day) = messages[offset][index];
                var position = new RecordPosition(offset, (uint)index);
                if (isFlow)
                {
                    if (resume.FlowStored(position)) continue;
                    if (batchFlows.Count > 0 && (batchDay != day || batchFlows.Count >= maxRows) && Flush()) return true;
                    batchDay = day;
                    batchFlows.Add(position);
                }
                else
                {
                    if (resume.DeadLetterStored(position)) continue;
                    if (batchDead.Count >= maxRows && Flush()) return true;
                    batchDead.Add(position);
                }
            }
        }
        return Flush();
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

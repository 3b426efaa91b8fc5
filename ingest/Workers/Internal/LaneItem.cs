namespace FlowPolicy.Ingest.Workers.Internal;

internal enum LaneItemKind : byte
{
    Message,
    Assigned,
    Revoked,
}

/// <summary>What the consumer thread hands a lane: a message, or a partition arriving or leaving.</summary>
internal readonly record struct LaneItem(
    LaneItemKind Kind,
    int Partition,
    long Offset,
    byte[]? Value,
    ResumePoint Resume,
    CancellationToken PartitionToken,
    TaskCompletionSource? Done);

/// <summary>One row of ingest_progress: a stored batch.</summary>
internal readonly record struct ProgressRow(
    DateTime Time, int Partition, long FirstOffset, long LastOffset, long Rows, long Bytes, long Lag, long DeadLetters, long InsertMillis);

namespace FlowPolicy.Ingest.Workers;

/// <summary>
/// The open batches of one lane and the rule that keeps many Kafka partitions per INSERT exactly once: batches are
/// stored one at a time in the order they were opened (<see cref="LaneBatch.Sequence"/>), and a partition's rows only
/// ever go to a batch opened at or after the newest batch already holding rows of it. So each partition's rows are
/// spread over batches in partition order, any prefix of stored batches holds a prefix of every partition, and the
/// resume rule (<see cref="ResumePoint"/>) holds as it does for one partition per batch. Several batches are open at
/// once because a batch holds one UTC day: partitions cross midnight at slightly different moments, and messages may
/// carry records of two days. When a row needs a new batch and <c>maxOpen</c> are open, the caller stores the oldest
/// first (<see cref="TakeOldest"/>). Owned by one lane; <see cref="Return"/> may be called from a store.
/// </summary>
internal sealed class LaneBatches : IDisposable
{
    private readonly int _maxRows;
    private readonly int _maxOpen;
    private readonly List<LaneBatch> _open = new();
    private readonly Stack<LaneBatch> _spares = new();
    private readonly Dictionary<int, long> _newestOf = new();
    private long _nextSequence = 1;

    public LaneBatches(int maxRows, int maxOpen = 4)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxRows, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxOpen, 1);
        _maxRows = maxRows;
        _maxOpen = maxOpen;
    }

    /// <summary>Open batches, oldest first.</summary>
    public IReadOnlyList<LaneBatch> Open => _open;

    /// <summary>
    /// The batch a flow of <paramref name="partition"/> and <paramref name="day"/> joins (marked as the partition's
    /// newest), or null when it needs a new batch and none may be opened: store <see cref="TakeOldest"/> first.
    /// </summary>
    public LaneBatch? ForFlow(int partition, int day)
    {
        long newest = _newestOf.GetValueOrDefault(partition);
        for (int i = _open.Count - 1; i >= 0 && _open[i].Sequence >= newest; i--)
        {
            if (!_open[i].FitsFlow(day)) continue;
            _newestOf[partition] = _open[i].Sequence;
            return _open[i];
        }
        return OpenNew(partition);
    }

    /// <summary>The batch a dead letter of <paramref name="partition"/> joins, or null as for <see cref="ForFlow"/>.</summary>
    public LaneBatch? ForDeadLetter(int partition)
    {
        if (_open.Count > 0 && _open[^1].FitsDeadLetter)
        {
            // The newest open batch is at or after every batch holding the partition.
            _newestOf[partition] = _open[^1].Sequence;
            return _open[^1];
        }
        return OpenNew(partition);
    }

    private LaneBatch? OpenNew(int partition)
    {
        if (_open.Count >= _maxOpen) return null;
        LaneBatch? batch;
        lock (_spares) _spares.TryPop(out batch);
        batch ??= new LaneBatch(_maxRows);
        batch.Sequence = _nextSequence++;
        _open.Add(batch);
        _newestOf[partition] = batch.Sequence;
        return batch;
    }

    /// <summary>Whether <paramref name="batch"/> is still open (not yet handed to a store).</summary>
    public bool IsOpen(LaneBatch batch) => _open.Contains(batch);

    /// <summary>Removes the oldest open batch, the next one to store (null when none is open).</summary>
    public LaneBatch? TakeOldest()
    {
        if (_open.Count == 0) return null;
        var batch = _open[0];
        _open.RemoveAt(0);
        return batch;
    }

    /// <summary>True when the oldest open batch's first row is at least <paramref name="interval"/> old; else how long until it is.</summary>
    public bool OldestDue(long nowTicks, long intervalMillis, out long dueInMillis)
    {
        dueInMillis = intervalMillis;
        if (_open.Count == 0) return false;
        var oldest = _open[0];
        if (oldest.IsEmpty) return false;
        dueInMillis = oldest.StartedTicks + intervalMillis - nowTicks;
        return dueInMillis <= 0;
    }

    /// <summary>Drops every open batch and what is known of the partitions (a store was abandoned: the lane starts over from ClickHouse).</summary>
    public void Clear()
    {
        foreach (var batch in _open) Return(batch);
        _open.Clear();
        _newestOf.Clear();
    }

    /// <summary>Forgets a partition that left the lane (its rows must already be stored or dropped).</summary>
    public void Forget(int partition) => _newestOf.Remove(partition);

    /// <summary>Gives a stored (or dropped) batch back for reuse, keeping its buffers.</summary>
    public void Return(LaneBatch batch)
    {
        batch.Reset();
        lock (_spares)
        {
            if (_spares.Count < _maxOpen) _spares.Push(batch);
            else batch.Dispose();
        }
    }

    public void Dispose()
    {
        foreach (var batch in _open) batch.Dispose();
        _open.Clear();
        lock (_spares)
            while (_spares.TryPop(out var batch)) batch.Dispose();
    }
}

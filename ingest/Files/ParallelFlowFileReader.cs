using FlowPolicy.Ingest.Formats;

namespace FlowPolicy.Ingest.Files;

/// <summary>
/// A sink fed by several threads, told where each chunk begins and ends. Chunks are numbered 0, 1, 2 ... over all
/// files in the order given, and each chunk's lines in file order, so a sink can put what it saw back in the order
/// one thread reading the files one after another would have seen it.
/// </summary>
internal interface IChunkedFlowSink : IFlowSink
{
    void BeginChunk(long sequence);
    /// <summary>Called for every chunk begun, also when decoding it failed; <paramref name="fileBytes"/> is what the chunk
    /// took from its file (compressed bytes for gzip), as progress counts it.</summary>
    void EndChunk(long sequence, long fileBytes);
}

/// <summary>
/// Reads flow files on several threads: each thread takes the next chunk of whole lines (1 MiB, cut by
/// <see cref="FlowChunkReader"/>: detection, gzip, line numbers and the VPC header travel with the chunk) and decodes it
/// into a sink of its own. Reading and inflating happen under one lock, by whichever thread needs the next chunk, so
/// gzip is inflated while the other threads parse the chunks before it. Files follow one another; a document
/// (Azure, a GCP JSON array) is one chunk. Errors stop the reading: the one of the earliest chunk is thrown, as reading
/// in order would have, after every earlier chunk reached its sink.
/// </summary>
internal sealed class ParallelFlowFileReader
{
    private readonly FlowFileReader _reader;
    private readonly int _threads;
    private readonly int _chunkBytes;

    /// <param name="threads">Threads to decode on (the calling thread is one of them).</param>
    /// <param name="chunkBytes">Bytes per chunk; smaller only in tests, to split small files.</param>
    public ParallelFlowFileReader(FlowFileReader reader, int threads, int chunkBytes = FlowChunkReader.ChunkBytes)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(chunkBytes, 1);
        _reader = reader;
        _threads = threads;
        _chunkBytes = chunkBytes;
    }

    /// <param name="sinks">One per thread (at least as many as threads).</param>
    /// <param name="progress">Called with the bytes of the files read and decoded so far (from any thread, never concurrently).</param>
    /// <param name="firstChunk">Chunks numbered below it are read past without decoding and never reach a sink (nor
    /// progress): a caller that kept what they held from an earlier read of the same files.</param>
    public IReadOnlyList<FlowFileSummary> Read(IReadOnlyList<string> paths, IReadOnlyList<IChunkedFlowSink> sinks, Action<long>? progress = null,
        CancellationToken cancellationToken = default, long firstChunk = 0)
    {
        if (sinks.Count < _threads) throw new ArgumentException($"{_threads} sinks are needed, one per thread", nameof(sinks));
        var run = new Run(this, paths, progress, cancellationToken, firstChunk);
        int threads = _threads;
        if (threads == 1) run.Work(sinks[0]);
        else Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, i => run.Work(sinks[i]));
        return run.Finish();
    }

    private sealed class Run(ParallelFlowFileReader owner, IReadOnlyList<string> paths, Action<long>? progress, CancellationToken cancellationToken, long firstChunk)
    {
        private readonly Lock _gate = new();
        private readonly Lock _progressGate = new();
        private readonly FlowFileSummary?[] _summaries = new FlowFileSummary?[paths.Count];
        private readonly string?[] _notes = new string?[paths.Count];
        private FlowChunkReader? _current;
        private int _file = -1;
        private long _sequence;
        private long _bytesDone;
        // The failure of the earliest chunk: thrown once every thread stopped.
        private long _failedAt = long.MaxValue;
        private Exception? _failure;

        public void Work(IChunkedFlowSink sink)
        {
            var chunk = new FlowChunk();
            var caches = new Dictionary<FlowDecoder, object?>();
            try
            {
                while (true)
                {
                    FlowChunkReader source;
                    int file;
                    long sequence;
                    lock (_gate)
                    {
                        if (!TryNextChunk(chunk, out source!, out file, out sequence)) return;
                    }
                    sink.BeginChunk(sequence);
                    try
                    {
                        if (chunk.Rejection is { } rejection) sink.Reject(rejection);
                        else
                        {
                            var decoder = source.Decoder;
                            var cursor = new DecodeCursor(source.Source, chunk.FirstLine)
                            {
                                State = decoder.StateForChunk(chunk.State, caches.GetValueOrDefault(decoder)),
                            };
                            decoder.Decode(chunk.Payload, ref cursor, sink);
                            caches[decoder] = cursor.State;
                            if (FlowFileReader.CheckFile(source.Source, cursor) is { } note) _notes[file] = note;
                        }
                    }
                    catch (Exception ex)
                    {
                        Fail(sequence, ex);
                    }
                    finally
                    {
                        sink.EndChunk(sequence, chunk.FileBytes);
                    }
                    Progress(chunk.FileBytes);
                }
            }
            finally
            {
                chunk.Release();
            }
        }

        /// <summary>Under the gate: the next chunk of the current file, opening the next file when one ends.</summary>
        private bool TryNextChunk(FlowChunk chunk, out FlowChunkReader source, out int file, out long sequence)
        {
            source = null!;
            file = -1;
            sequence = _sequence;
            while (_failure is null)
            {
                if (cancellationToken.IsCancellationRequested)
                {
                    FailLocked(_sequence, new OperationCanceledException(cancellationToken));
                    return false;
                }
                if (_current is null)
                {
                    if (_file + 1 >= paths.Count) return false;
                    _file++;
                    try
                    {
                        _current = owner._reader.Open(paths[_file], owner._chunkBytes);
                    }
                    catch (Exception ex)
                    {
                        FailLocked(_sequence, ex);
                        return false;
                    }
                }
                try
                {
                    if (_current.TryNext(chunk))
                    {
                        if (_sequence < firstChunk)
                        {
                            _sequence++;
                            continue;
                        }
                        source = _current;
                        file = _file;
                        sequence = _sequence++;
                        return true;
                    }
                }
                catch (Exception ex)
                {
                    FailLocked(_sequence, ex);
                    return false;
                }
                Progress(chunk.FileBytes);
                var ended = _current;
                _current = null;
                _summaries[_file] = new FlowFileSummary(ended.Source, ended.Format, ended.Gzip, ended.FileBytesRead, Parquet: ended.Parquet);
                ended.Dispose();
                if (ended.Failure is { } failure) FailLocked(_sequence, failure);
            }
            return false;
        }

        private void Progress(long bytes)
        {
            if (progress is null || bytes == 0) return;
            lock (_progressGate)
            {
                _bytesDone += bytes;
                progress(_bytesDone);
            }
        }

        private void Fail(long sequence, Exception ex)
        {
            lock (_gate) FailLocked(sequence, ex);
        }

        private void FailLocked(long sequence, Exception ex)
        {
            if (sequence >= _failedAt) return;
            _failedAt = sequence;
            _failure = ex;
        }

        public IReadOnlyList<FlowFileSummary> Finish()
        {
            _current?.Dispose();
            if (_failure is not null) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(_failure);
            var result = new FlowFileSummary[paths.Count];
            for (int i = 0; i < result.Length; i++) result[i] = _summaries[i]! with { Note = _notes[i] };
            return result;
        }
    }
}

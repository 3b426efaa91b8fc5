using System.Text;
using FlowPolicy.Suggest.Emitters;
using FlowPolicy.Suggest.Inference;

namespace FlowPolicy.Suggest.Reports;

/// <summary>How policy files are laid out in each format's directory.</summary>
public enum SuggestionLayout
{
    /// <summary>FORMAT/NS/flowpolicy--default-deny.yaml and a file per workload policy (NAME.yaml, NAME-ingress.yaml, ...).</summary>
    Workload,
    /// <summary>FORMAT/NS.yaml: every policy of the namespace in one multi-document file, in the same order.</summary>
    Namespace,
}

/// <summary>Which outputs to write.</summary>
public sealed class SuggestionOutputOptions
{
    public static readonly IReadOnlyList<string> AllFormats = ["k8s", "cilium", "istio", "calico", "json"];

    public required string Directory { get; init; }
    /// <summary>Any of <see cref="AllFormats"/>; report.md is always written.</summary>
    public IReadOnlyList<string> Formats { get; init; } = AllFormats;
    public SuggestionLayout Layout { get; init; } = SuggestionLayout.Workload;
    /// <summary>What the inventory says about the cluster (node addresses for egress to the nodes under a default deny).</summary>
    public ClusterFacts Cluster { get; set; } = ClusterFacts.Unknown;
    /// <summary>
    /// Write L7 rules where L7 was observed (--l7): Cilium HTTP/Kafka rules and toFQDNs with the DNS proxy rule, Istio
    /// methods/paths and a ServiceEntry of named external hosts. Off by default: L7 rules send the port through a proxy.
    /// </summary>
    public bool L7 { get; init; }
    /// <summary>Called after each policy object is written (tests: to fail a run half-way).</summary>
    internal Action<string>? AfterPolicyFile { get; init; }

    /// <summary>Write a suggestion without rules too (by default it is refused: it would replace the policies a user applied with nothing).</summary>
    public bool AllowEmpty { get; init; }
    /// <summary>Replace the earlier output whatever the new rule count (by default a steep drop is refused, see <see cref="ShrinkThreshold"/>).</summary>
    public bool AllowShrink { get; init; }
    /// <summary>
    /// A new suggestion with fewer rules than this share of the output it replaces is refused unless
    /// <see cref="AllowShrink"/>: half the rules gone at once is far more often a broken input (one source missing, the
    /// wrong window) than half the services retired. 0 turns the check off.
    /// </summary>
    public double ShrinkThreshold { get; init; } = 0.5;
    /// <summary>
    /// What the new suggestion is compared with; null: the record the previous run left in <see cref="Directory"/>
    /// (serve writes each report into a new folder and passes the previous report's count instead).
    /// </summary>
    internal SuggestionBaseline? Baseline { get; init; }

    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(Directory)) throw new ArgumentException("an output directory is needed");
        if (ShrinkThreshold is < 0 or > 1 || double.IsNaN(ShrinkThreshold)) throw new ArgumentException("the shrink threshold must be between 0 and 1 (0 to 100%)");
        foreach (var format in Formats)
            if (!AllFormats.Contains(format)) throw new ArgumentException($"unknown --emit format '{format}'; use any of: {string.Join(",", AllFormats)}");
    }
}

/// <summary>
/// Writes the suggestion: policy files per format, suggestions.json and report.md. Every path is built from
/// sanitised names and checked to stay inside the output directory; files are written byte-identically for the
/// same input.
/// </summary>
public sealed class SuggestionOutput
{
    private static readonly UTF8Encoding Utf8 = new(false);
    private readonly SuggestionOutputOptions _options;

    public SuggestionOutput(SuggestionOutputOptions options)
    {
        options.Validate();
        _options = options;
    }

    /// <summary>
    /// Returns the written paths, relative to the directory, in order. The formats, suggestions.json and the body of
    /// report.md are independent: they are written side by side, one per core; the report's last section (each
    /// format's file count and notes) is appended when every emitter is done.
    /// </summary>
    /// <exception cref="SuggestionRefusedException">The suggestion is empty or far smaller than the output it would replace; nothing was written.</exception>
    public IReadOnlyList<string> Write(SuggestionSet set, IntentDiff? diff = null)
    {
        var root = Path.GetFullPath(_options.Directory);
        var record = OutputRecord.Read(root);
        Guard(set, record, root);
        System.IO.Directory.CreateDirectory(root);
        RemoveLeftoverStaging(root);
        // Everything is written into a staging directory inside the output directory, then moved into place: a run
        // that fails leaves the previous output as it was (never half of a new set, nor stale policies among new ones),
        // and each format's directory is replaced by two renames, so a reader sees the old set or the new one.
        var staging = Path.Combine(root, StagingPrefix + Guid.NewGuid().ToString("N")[..12]);
        System.IO.Directory.CreateDirectory(staging);
        try
        {
            var emitters = Emitters(_options.Cluster, _options.L7).Where(e => _options.Formats.Contains(e.Format)).ToList();
            var written = WriteAll(set, diff, staging, emitters);
            foreach (var emitter in emitters) Replace(root, staging, emitter.Format);
            // report.md and suggestions.json: the paths without a folder.
            foreach (var file in written.Where(f => !f.Contains('/')))
                File.Move(Path.Combine(staging, file), Confine(root, file), overwrite: true);
            record.Update(_options.Formats, set.Rules.Count).Write(root, staging);
            return written;
        }
        finally
        {
            // Holds the previous run's directories by now (Replace moves them here), or a failed run's files.
            try { System.IO.Directory.Delete(staging, recursive: true); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { } // left for the next run to remove
        }
    }

    /// <summary>
    /// Refuses, before anything is written, a suggestion that would take away what a user applied: one with no rules,
    /// or one with fewer than <see cref="SuggestionOutputOptions.ShrinkThreshold"/> of the rules of the output it replaces.
    /// </summary>
    private void Guard(SuggestionSet set, OutputRecord record, string root)
    {
        if (set.Rules.Count == 0 && !_options.AllowEmpty)
            throw new SuggestionRefusedException(SuggestionRefusal.Empty, 0, null,
                string.Create(System.Globalization.CultureInfo.InvariantCulture,
                    $"the suggestion has no rules ({set.InputEdges} edges in, {set.LeftOut.Count} left out as noise)"), root);
        // An empty set the user asked for (AllowEmpty) is not also refused as a shrink to nothing.
        if (_options.AllowShrink || _options.ShrinkThreshold <= 0 || set.Rules.Count == 0) return;
        var baseline = _options.Baseline ?? record.BaselineFor(_options.Formats, root);
        if (baseline is null || set.Rules.Count >= baseline.Rules * _options.ShrinkThreshold) return;
        throw new SuggestionRefusedException(SuggestionRefusal.Shrunk, set.Rules.Count, baseline,
            string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"the suggestion has {set.Rules.Count} rules, fewer than {_options.ShrinkThreshold * 100:0.#}% of the {baseline.Rules} rules of the output it would replace ({baseline.Source})"), root);
    }

    /// <summary>Names the staging directory of a run inside the output directory (dot: hidden, and no format's name).</summary>
    internal const string StagingPrefix = ".flowpolicy-staging-";

    /// <summary>Staging directories of runs that were killed before they could remove theirs.</summary>
    private static void RemoveLeftoverStaging(string root)
    {
        foreach (var dir in System.IO.Directory.EnumerateDirectories(root, StagingPrefix + "*"))
        {
            try { System.IO.Directory.Delete(dir, recursive: true); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        }
    }

    /// <summary>Puts the format's new directory in place of the old one; the old one goes into staging, deleted with it.</summary>
    private static void Replace(string root, string staging, string format)
    {
        var target = Confine(root, format);
        var fresh = Path.Combine(staging, format);
        if (System.IO.Directory.Exists(target)) System.IO.Directory.Move(target, Path.Combine(staging, ".previous-" + format));
        else if (File.Exists(target)) File.Delete(target);
        // A format with no policies (an empty suggestion) has no directory: the old one is gone all the same.
        if (System.IO.Directory.Exists(fresh)) System.IO.Directory.Move(fresh, target);
    }

    /// <summary>Writes every output under <paramref name="root"/> (the staging directory); returns the relative paths.</summary>
    private IReadOnlyList<string> WriteAll(SuggestionSet set, IntentDiff? diff, string root, List<IPolicyEmitter> emitters)
    {
        var assumptions = Emitters(_options.Cluster, _options.L7).ToDictionary(e => e.Format, e => e.Assumptions, StringComparer.Ordinal);
        _ = set.Index; // built once here, not raced for by the emitters
        // Each format in parts of consecutive namespaces, one per core: joined in namespace order, the files, their
        // order and the notes are what one pass over every namespace makes.
        int partsPerFormat = Math.Clamp(set.Namespaces.Count, 1, Environment.ProcessorCount);
        var parts = new EmitResult?[emitters.Count, partsPerFormat];
        var writtenBy = new List<string>[emitters.Count, partsPerFormat];
        var largeBy = new List<(string Path, long Bytes)>[emitters.Count, partsPerFormat];
        bool json = _options.Formats.Contains("json");
        using var report = new StreamWriter(Create(root, "report.md", []), Utf8, 64 * 1024);
        // Largest first, so the last item to start is a small one.
        var work = new List<(int Order, Action Run)>();
        for (int i = 0; i < emitters.Count; i++)
            for (int p = 0; p < partsPerFormat; p++)
            {
                int index = i, part = p;
                int from = set.Namespaces.Count * part / partsPerFormat, to = set.Namespaces.Count * (part + 1) / partsPerFormat;
                var namespaces = set.Namespaces.Skip(from).Take(to - from).ToList();
                var partWritten = writtenBy[index, part] = [];
                var partLarge = largeBy[index, part] = [];
                work.Add((WorkOrder(emitters[index].Format), () =>
                {
                    // Each file is written as it is made (a large set is gigabytes of YAML).
                    using var files = new PolicyFiles(root, _options.Layout);
                    parts[index, part] = emitters[index].Emit(set, namespaces, new EmittedFiles(file =>
                    {
                        var (path, size) = files.Write(file, partWritten);
                        if (size > ClientSideApplyLimit) partLarge.Add((path, size));
                        _options.AfterPolicyFile?.Invoke(path);
                    }));
                }));
            }
        if (json)
            work.Add((WorkOrder("json"), () =>
            {
                using var stream = Create(root, "suggestions.json", []);
                SuggestionsJson.Write(stream, set, assumptions, diff);
            }));
        work.Add((WorkOrder("report"), () => MarkdownReport.WriteBody(report, set, diff, json)));
        work.Sort((a, b) => a.Order.CompareTo(b.Order));
        Run(work.Select(w => w.Run).ToList());
        var results = new List<EmitResult>(emitters.Count);
        for (int i = 0; i < emitters.Count; i++)
        {
            int files = 0;
            var notes = new List<string>();
            for (int p = 0; p < partsPerFormat; p++)
            {
                files += parts[i, p]!.ObjectCount;
                notes.AddRange(parts[i, p]!.Notes);
            }
            // Objects too large to apply as they are come first: the report cuts long lists of notes.
            var formatNotes = new List<string>();
            for (int p = 0; p < partsPerFormat; p++)
                foreach (var (path, bytes) in largeBy[i, p]) formatNotes.Add(LargeObjectNote(path, bytes));
            formatNotes.AddRange(emitters[i].Notes(set, notes));
            results.Add(new EmitResult(emitters[i].Format, files, formatNotes));
        }
        MarkdownReport.WriteFormats(report, results, assumptions, json);

        report.Dispose(); // complete before it is moved into place
        var written = new List<string>();
        for (int i = 0; i < emitters.Count; i++)
            for (int p = 0; p < partsPerFormat; p++) written.AddRange(writtenBy[i, p]);
        if (json) written.Add("suggestions.json");
        written.Add("report.md");
        return written;
    }

    /// <summary>
    /// Client-side `kubectl apply` copies the whole object into the last-applied-configuration annotation, and the API
    /// server rejects annotations over 256 KiB; a server workload with thousands of clients gets a policy that large.
    /// </summary>
    internal const long ClientSideApplyLimit = 256 * 1024;

    /// <summary>etcd's default request limit (1.5 MiB): an object above it cannot be stored however it is applied.</summary>
    internal const long StoredObjectLimit = 1536 * 1024;

    /// <param name="path">The file, or for the namespace layout "FILE (POLICY)".</param>
    /// <param name="size">The object's text in characters (bytes for ASCII), evidence comments included.</param>
    internal static string LargeObjectNote(string path, long size)
    {
        string text = (size / 1024.0).ToString("#,0", System.Globalization.CultureInfo.InvariantCulture) + " KiB";
        return size > StoredObjectLimit
            ? $"{path} is {text} (evidence comments included): above the 1.5 MiB an API server stores by default (etcd's request limit); split its rules over several policies selecting the same workload, or select clients by namespace."
            : $"{path} is {text} (evidence comments included): plain `kubectl apply` keeps a copy of the object in an annotation limited to 256 KiB and may refuse it; apply it with `kubectl apply --server-side`.";
    }

    /// <summary>Bigger outputs first (measured at 1M rules: calico 1.4 GB, suggestions.json 1.8 GB, report.md 0.45 GB).</summary>
    private static int WorkOrder(string item) => item switch
    {
        "json" => 0,
        "calico" => 1,
        "cilium" => 2,
        "k8s" => 3,
        "report" => 4,
        _ => 5,
    };

    /// <summary>Runs the items on up to one thread per core; the first failure is thrown as itself.</summary>
    private static void Run(IReadOnlyList<Action> items)
    {
        if (items.Count == 1 || Environment.ProcessorCount == 1)
        {
            foreach (var item in items) item();
            return;
        }
        try
        {
            // No buffering: each thread takes the next item in order when it is free.
            Parallel.ForEach(System.Collections.Concurrent.Partitioner.Create(items, System.Collections.Concurrent.EnumerablePartitionerOptions.NoBuffering), new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount }, item => item());
        }
        catch (AggregateException e) when (e.InnerExceptions.Count > 0)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e.InnerExceptions[0]).Throw();
        }
    }

    internal static IReadOnlyList<IPolicyEmitter> Emitters(ClusterFacts? cluster = null, bool l7 = false) =>
        [new KubernetesEmitter(cluster ?? ClusterFacts.Unknown), new CiliumEmitter(l7), new IstioEmitter(l7, (cluster ?? ClusterFacts.Unknown).IstioTrustDomain),
            new CalicoEmitter(cluster ?? ClusterFacts.Unknown)];

    private static FileStream Create(string root, string relative, HashSet<string> directories)
    {
        var path = Confine(root, relative);
        CreateDirectory(path, directories);
        return new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.Read, 64 * 1024);
    }

    /// <summary>Tens of thousands of files share a few hundred directories: create each once.</summary>
    internal static void CreateDirectory(string path, HashSet<string> directories)
    {
        var dir = Path.GetDirectoryName(path)!;
        if (directories.Add(dir)) System.IO.Directory.CreateDirectory(dir);
    }

    /// <summary>The full path of <paramref name="relative"/> under <paramref name="root"/>; throws if it would leave it.</summary>
    internal static string Confine(string root, string relative)
    {
        var full = Path.GetFullPath(Path.Combine(root, relative));
        var prefix = root.EndsWith(Path.DirectorySeparatorChar) ? root : root + Path.DirectorySeparatorChar;
        if (!full.StartsWith(prefix, StringComparison.Ordinal))
            throw new InvalidOperationException($"refusing to write '{relative}': it leaves the output directory {root}");
        return full;
    }
}

/// <summary>
/// Where one emitter part's files go: a file each (<see cref="SuggestionLayout.Workload"/>), or the files of a
/// namespace directory as the documents of one FORMAT/NS.yaml (<see cref="SuggestionLayout.Namespace"/>: 10,000
/// workloads make ~20,000 files per format, and creating a file costs more than writing 50 KB into one).
/// </summary>
internal sealed class PolicyFiles(string root, SuggestionLayout layout) : IDisposable
{
    private readonly HashSet<string> _directories = new(StringComparer.Ordinal);
    // Emitters finish a namespace before the next, but may alternate between two directories of it (Calico's
    // enforced and staged copies): a file stays open until two newer ones are.
    private readonly List<(string Path, FileTextWriter Writer)> _open = new();
    private readonly HashSet<string> _closed = new(StringComparer.Ordinal);

    /// <summary>Writes <paramref name="file"/>; adds a new file's path to <paramref name="written"/>. Returns where the object is and its size.</summary>
    public (string Where, long Size) Write(EmittedFile file, List<string> written)
    {
        string target = layout == SuggestionLayout.Workload
            ? file.RelativePath
            : Path.GetDirectoryName(file.RelativePath)!.Replace('\\', '/') + ".yaml";
        int at = _open.FindIndex(o => o.Path == target);
        FileTextWriter writer;
        if (at >= 0)
        {
            writer = _open[at].Writer;
            writer.Write("---\n");
        }
        else
        {
            if (!_closed.Add(target)) throw new InvalidOperationException($"{target} was already written and closed: an emitter went back to a finished namespace");
            writer = _open.Count >= 2 ? Close(0) : new FileTextWriter();
            var path = SuggestionOutput.Confine(root, target);
            SuggestionOutput.CreateDirectory(path, _directories);
            writer.Open(path);
            _open.Add((target, writer));
            written.Add(target);
        }
        long before = writer.Length;
        file.WriteTo(writer);
        long size = writer.Length - before;
        return (layout == SuggestionLayout.Workload ? target : $"{target} ({Path.GetFileNameWithoutExtension(file.RelativePath)})", size);
    }

    /// <summary>Closes the open file at <paramref name="index"/>; returns its writer for reuse.</summary>
    private FileTextWriter Close(int index)
    {
        var writer = _open[index].Writer;
        _open.RemoveAt(index);
        writer.CloseFile();
        return writer;
    }

    public void Dispose()
    {
        Exception? first = null;
        while (_open.Count > 0)
        {
            var writer = _open[0].Writer;
            try { Close(0); }
            catch (Exception e) { first ??= e; }
            writer.Dispose();
        }
        if (first is not null) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(first).Throw();
    }
}

/// <summary>
/// UTF-8 text into one file at a time, with buffers reused from file to file: tens of thousands of policy files are
/// encoded straight from the YAML writer into a 48 KiB buffer, without a string or byte array per file.
/// </summary>
internal sealed class FileTextWriter : TextWriter
{
    private const int Chars = 16 * 1024;
    private static readonly UTF8Encoding Utf8 = new(false);
    private readonly char[] _chars = new char[Chars];
    private readonly byte[] _bytes = new byte[Utf8.GetMaxByteCount(Chars)];
    private readonly Encoder _encoder = Utf8.GetEncoder();
    private int _used;
    private FileStream? _file;

    private long _encoded;

    /// <summary>Characters written to the current (or last closed) file so far, buffered ones included.</summary>
    public long Length => _encoded + _used;

    public FileTextWriter() : base(System.Globalization.CultureInfo.InvariantCulture) { }

    public override Encoding Encoding => Utf8;

    public void Open(string path)
    {
        if (_file is not null) throw new InvalidOperationException("a file is still open");
        _file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.Read, bufferSize: 0);
        _encoder.Reset();
        _used = 0;
        _encoded = 0;
    }

    public void CloseFile()
    {
        if (_file is null) return;
        try
        {
            Drain(flush: true);
        }
        finally
        {
            _file.Dispose();
            _file = null;
        }
    }

    public override void Write(char value)
    {
        if (_used == Chars) Drain(flush: false);
        _chars[_used++] = value;
    }

    public override void Write(string? value) => Write(value.AsSpan());

    public override void Write(char[] buffer, int index, int count) => Write(buffer.AsSpan(index, count));

    public override void Write(ReadOnlySpan<char> value)
    {
        while (!value.IsEmpty)
        {
            if (_used == Chars) Drain(flush: false);
            int n = Math.Min(value.Length, Chars - _used);
            value[..n].CopyTo(_chars.AsSpan(_used));
            _used += n;
            value = value[n..];
        }
    }

    private void Drain(bool flush)
    {
        int n = _encoder.GetBytes(_chars, 0, _used, _bytes, 0, flush);
        _file!.Write(_bytes, 0, n);
        _encoded += _used;
        _used = 0;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing) CloseFile();
        base.Dispose(disposing);
    }
}

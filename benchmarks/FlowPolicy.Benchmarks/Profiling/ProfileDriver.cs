using System.Diagnostics;
using FlowPolicy.Benchmarks.ClickHouse;
using FlowPolicy.Benchmarks.Edges;
using FlowPolicy.Benchmarks.Enrichment;
using FlowPolicy.Benchmarks.Readers;
using FlowPolicy.Core.Edges;

namespace FlowPolicy.Benchmarks.Profiling;

/// <summary>
/// `--profile NAME [SECONDS]`: runs one hot path in a loop with no harness around it, for a sampling profiler
/// (benchmarks/profile.sh runs it under `perf record` with the JIT's perf map). Setup happens before the loop
/// and is announced on stderr, so it can be told apart in the profile (it is short next to the loop).
/// </summary>
internal static class ProfileDriver
{
    private static readonly Dictionary<string, Func<Func<long>>> Targets = new(StringComparer.OrdinalIgnoreCase)
    {
        ["canonical"] = () => Reader(new CanonicalJson()),
        ["canonical-reader"] = () => { var b = new CanonicalJson(); b.Setup(); return b.ReaderPathOnly; },
        ["vpc"] = () => Reader(new AwsVpcText()),
        ["hubble"] = () => Reader(new HubbleJson()),
        ["goflow2"] = () => Reader(new GoFlow2Json()),
        ["gcp"] = () => Reader(new GcpVpcJson()),
        ["azure"] = () => Reader(new AzureNsgJson()),
        ["leases"] = () => { var b = new LeaseLookup(); b.Setup(); return b.LeaseIndexLookup; },
        ["rowbinary"] = () => { var b = new FlowRowEncoding(); b.Setup(); return b.RowBinary; },
        ["rowbinary-sorted"] = () => { var b = new FlowRowEncoding(); b.Setup(); return b.RowBinarySorted; },
        ["edges"] = () => { var b = new EdgeAggregation(); b.Setup(); return () => b.EdgeAggregator(); },
        ["resolve"] = () => { var b = new DirectionResolving(); b.Setup(); return b.Resolve; },
        ["observe"] = () => { var b = new DirectionResolving(); b.Setup(); return b.Observe; },
    };

    private static Func<long> Reader(ReaderBenchmark benchmark)
    {
        benchmark.Setup();
        return benchmark.FlowPolicyReader;
    }

    public static int Run(string[] args)
    {
        if (args.Length < 2 || !Targets.TryGetValue(args[1], out var target))
        {
            Console.Error.WriteLine($"usage: --profile {{{string.Join('|', Targets.Keys)}}} [seconds]");
            return 2;
        }
        double seconds = args.Length > 2 ? double.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture) : 10;
        var run = target();
        for (int i = 0; i < 3; i++) run(); // tier up before sampling
        // profile.sh attaches perf once this line appears, so setup and JIT stay out of the samples.
        Console.Error.WriteLine($"profiling {args[1]} for {seconds} s (pid {Environment.ProcessId})");
        Console.Error.Flush();
        var clock = Stopwatch.StartNew();
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        long operations = 0, sink = 0;
        long allocated = GC.GetAllocatedBytesForCurrentThread();
        while (clock.Elapsed.TotalSeconds < seconds)
        {
            sink += run();
            operations++;
        }
        allocated = GC.GetAllocatedBytesForCurrentThread() - allocated;
        cpu = Process.GetCurrentProcess().TotalProcessorTime - cpu;
        double perItem = clock.Elapsed.TotalNanoseconds / (operations * Data.BenchData.Records);
        // CPU time per item is what "per core" means on a shared machine: wall time includes waiting for a core.
        double cpuPerItem = cpu.TotalNanoseconds / (operations * Data.BenchData.Records);
        Console.Error.WriteLine($"{operations} x 100k items, wall {perItem:0.0} ns/item, CPU {cpuPerItem:0.0} ns/item = {1e3 / cpuPerItem:0.00} M items/s per core, " +
            $"{(double)allocated / (operations * Data.BenchData.Records):0.0} B/item allocated (checksum {sink})");
        return 0;
    }
}

using BenchmarkDotNet.Running;
using FlowPolicy.Benchmarks;
using FlowPolicy.Benchmarks.Profiling;

// dotnet run -c Release --project benchmarks/FlowPolicy.Benchmarks -- [--quick] --filter '*'
//   (any BenchmarkDotNet arguments after ours)
// dotnet run -c Release --project benchmarks/FlowPolicy.Benchmarks -- --profile canonical 10
if (args.Length > 0 && args[0] == "--profile") return ProfileDriver.Run(args);

bool quick = args.Contains("--quick");
var rest = args.Where(a => a != "--quick").ToArray();
var summaries = BenchmarkSwitcher.FromAssembly(typeof(BenchConfig).Assembly).Run(rest, BenchConfig.Create(quick));
return summaries.Any(s => s.HasCriticalValidationErrors || s.Reports.Any(r => !r.Success)) ? 1 : 0;

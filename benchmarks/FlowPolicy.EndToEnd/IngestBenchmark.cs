using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using Confluent.Kafka;
using FlowPolicy.Benchmarks.Data;
using FlowPolicy.ClickHouse;
using FlowPolicy.Core.Flows;
using FlowPolicy.Ingest.Formats;
using FlowPolicy.Ingest.Formats.Canonical;
using FlowPolicy.Ingest.Kafka;
using FlowPolicy.LocalServers.ClickHouse;
using FlowPolicy.LocalServers.Kafka;

namespace FlowPolicy.EndToEnd;

internal sealed class IngestBenchmarkOptions
{
    public long Flows { get; init; } = 2_000_000;
    public int Partitions { get; init; } = 64;
    public int Rounds { get; init; } = 3;
    /// <summary>FlowPolicy lanes and Kafka engine consumers: the same parallelism on both sides.</summary>
    public int Consumers { get; init; } = 2;
    /// <summary>FlowPolicy lanes (--workers): lanes wait on their INSERTs, so more lanes than cores hide that latency.</summary>
    public int Lanes { get; init; } = 2;
    public double BatchIntervalSeconds { get; init; } = 2;
    /// <summary>`--batch-rows` for the worker; null keeps its default.</summary>
    public int? BatchRows { get; init; }
    /// <summary>A side that has not stored every flow by then is reported as failed (not counted).</summary>
    public TimeSpan RunTimeout { get; init; } = TimeSpan.FromMinutes(4);
    public string ServerLogLevel { get; init; } = "warning";
    /// <summary>"both", "flowpolicy" or "kafka" (for profiling one side).</summary>
    public string Sides { get; init; } = "both";

    public void Validate()
    {
        if (Flows < 1) throw new ArgumentException("--flows must be positive");
        if (Partitions is < 1 or > 1000) throw new ArgumentException("--partitions takes 1 to 1000");
        if (Rounds < 1) throw new ArgumentException("--rounds must be positive");
        if (Consumers < 1) throw new ArgumentException("--consumers must be positive");
    }
}

/// <summary>One side's run: flows/s from the first to the last row visible, peak memory.</summary>
internal sealed record IngestRun(string Side, int Round, bool Valid, string? Problem, long Rows, double FirstRowSeconds,
    double SustainedSeconds, double FlowsPerSecond, long ConsumerPeakRss, long ServerRssDelta)
{
    /// <summary>Seconds from starting the consumer (process start, or creating the view) to the last row visible.</summary>
    public double TotalSeconds => FirstRowSeconds + SustainedSeconds;
    /// <summary>CPU seconds of the consuming process (FlowPolicy's child; 0 for the Kafka engine, which runs in the server).</summary>
    public double ConsumerCpuSeconds { get; init; }
    /// <summary>CPU seconds of the ClickHouse server during the run (for the Kafka engine: consuming, parsing, converting, storing).</summary>
    public double ServerCpuSeconds { get; init; }
}

/// <summary>
/// FlowPolicy ingest (a child `flowpolicy ingest` process: decode, enrich, orient, RowBinary INSERTs) against
/// ClickHouse's own Kafka table engine + a materialized view into an equivalent table (no enrichment), over the same
/// messages of one mock-broker topic, one side at a time, each with its own consumer group and database.
/// </summary>
internal sealed class IngestBenchmark(IngestBenchmarkOptions options, TextWriter log)
{
    private const string Topic = "e2e-flows";
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(200);

    public async Task<IReadOnlyList<IngestRun>> RunAsync(CancellationToken cancellationToken)
    {
        options.Validate();
        var work = Directory.CreateTempSubdirectory("flowpolicy-e2e-");
        try
        {
            var leases = Path.Combine(work.FullName, "leases.jsonl");
            WriteLeases(leases);
            var data = Path.Combine(work.FullName, "clickhouse");
            // librdkafka settings of the server's Kafka engine come from the <kafka> section of its configuration. 18.16 sets no
            // auto.offset.reset, so a new group would start at the end of the (already produced) topic: start at the beginning,
            // as FlowPolicy's workers do. E2E_KAFKA_DEBUG=cgrp,fetch adds librdkafka debug output.
            Directory.CreateDirectory(Path.Combine(data, "config.d"));
            var debug = Environment.GetEnvironmentVariable("E2E_KAFKA_DEBUG") is { Length: > 0 } d ? $"<debug>{d}</debug>" : "";
            File.WriteAllText(Path.Combine(data, "config.d", "kafka.xml"), $"<yandex><kafka><auto_offset_reset>earliest</auto_offset_reset>{debug}</kafka></yandex>");
            await using var server = await LocalClickHouseServer.StartAsync(new LocalClickHouseServerOptions { LogLevel = options.ServerLogLevel, DataDirectory = data, DeleteDataOnStop = true }, cancellationToken);
            using var cluster = MockKafkaCluster.Start(new MockKafkaClusterOptions { Partitions = options.Partitions, Topics = [Topic] });
            var kafka = new KafkaOptions { Brokers = cluster.BootstrapServers, Topic = Topic };
            using var client = new ClickHouseHttpClient(server.ClientOptions());
            log.WriteLine($"e2e: ClickHouse {await client.GetServerVersionAsync(cancellationToken)} on {server.Url}, mock broker {cluster.BootstrapServers}, " +
                          $"topic {Topic} with {options.Partitions} partitions");

            var produced = Produce(kafka, cancellationToken);
            log.WriteLine($"e2e: produced {produced.Messages:N0} messages ({produced.Bytes / 1048576.0:F0} MiB of JSON) in {produced.Seconds:F1} s " +
                          $"({produced.Messages / produced.Seconds:N0}/s)");
            var retained = CheckRetention(kafka);
            if (retained is not null) throw new InvalidOperationException("The mock broker dropped messages before anyone consumed: " + retained +
                                                                         ". Use more --partitions or fewer --flows.");

            var runs = new List<IngestRun>();
            for (int round = 1; round <= options.Rounds; round++)
            {
                if (options.Sides != "kafka")
                {
                    foreach (bool raw in new[] { false, true })
                    {
                        runs.Add(await RunKafkaClientAloneAsync(kafka, round, raw, cancellationToken));
                        log.WriteLine("e2e: " + Describe(runs[^1]));
                    }
                    runs.Add(await RunFlowPolicyAsync(server, client, kafka, leases, round, cancellationToken));
                    log.WriteLine("e2e: " + Describe(runs[^1]));
                }
                if (options.Sides != "flowpolicy")
                {
                    runs.Add(await RunKafkaEngineAsync(server, client, kafka, round, cancellationToken));
                    log.WriteLine("e2e: " + Describe(runs[^1]));
                }
            }
            // The broker must still hold everything: otherwise a later side read less than an earlier one.
            if (CheckRetention(kafka) is { } lost) log.WriteLine("e2e: WARNING after the runs: " + lost);
            return runs;
        }
        finally
        {
            try { work.Delete(recursive: true); }
            catch (IOException) { }
        }
    }

    public static string Describe(IngestRun run) => string.Create(CultureInfo.InvariantCulture,
        $"{run.Side} round {run.Round}: {(run.Valid ? "ok" : "INVALID (" + run.Problem + ")")}, {run.Rows:N0} rows, first row after {run.FirstRowSeconds:F1} s, " +
        $"{run.FlowsPerSecond:N0} flows/s over {run.SustainedSeconds:F1} s, consumer peak RSS {ProcessMemory.Mib(run.ConsumerPeakRss)}, " +
        $"ClickHouse RSS +{ProcessMemory.Mib(run.ServerRssDelta)}, CPU {run.ConsumerCpuSeconds:F1} s consumer + {run.ServerCpuSeconds:F1} s ClickHouse, " +
        $"{run.Rows / run.TotalSeconds:N0} flows/s from start");

    // ---- input ---------------------------------------------------------------------------------------------------

    /// <summary>The 2,000 pods of <see cref="BenchData"/> as lease lines (what enrichment resolves addresses with).</summary>
    private static void WriteLeases(string path)
    {
        using var writer = new StreamWriter(path, false, new UTF8Encoding(false));
        foreach (var pod in BenchData.Pods)
        {
            var id = pod.Identity;
            writer.Write(string.Create(CultureInfo.InvariantCulture,
                $"{{\"ip\":\"{pod.IpText}\",\"from\":\"2026-10-01T00:00:00Z\",\"kind\":\"pod\",\"namespace\":\"{id.Namespace}\",\"workload\":\"{id.Workload}\",\"workload_kind\":\"{id.WorkloadKind}\",\"name\":\"{id.Name}\",\"labels\":{{"));
            for (int i = 0; i < id.Labels.Count; i++)
                writer.Write((i > 0 ? "," : "") + $"\"{id.Labels[i].Key}\":\"{id.Labels[i].Value}\"");
            writer.Write(string.Create(CultureInfo.InvariantCulture, $"}},\"ports\":[{{\"port\":{pod.Port},\"protocol\":\"{(pod.Port == 53 ? "UDP" : "TCP")}\"}}]}}\n"));
        }
    }

    private readonly record struct Produced(long Messages, long Bytes, double Seconds);

    /// <summary>
    /// N canonical JSON lines without identities (what a collector sends; ~290 bytes), one flow per message, spread
    /// evenly over the partitions. The 100,000 BenchData flows repeat with their times moved on by 3 hours per cycle
    /// (a cycle spans ~2.8 h), so the topic covers several UTC days as a real one would.
    /// </summary>
    private Produced Produce(KafkaOptions kafka, CancellationToken cancellationToken)
    {
        var flows = BenchData.Flows(BenchData.Records, withIdentities: false);
        var buffer = new ArrayBufferWriter<byte>(512);
        using var json = new CanonicalJsonWriter(buffer);
        long failed = 0, bytes = 0;
        string? firstError = null;
        var clock = Stopwatch.StartNew();
        using (var producer = new ProducerBuilder<Null, byte[]>(kafka.ToProducerConfig()).SetLogHandler((_, _) => { }).Build())
        {
            void OnDelivery(DeliveryReport<Null, byte[]> report)
            {
                if (report.Error.IsError)
                {
                    Interlocked.Increment(ref failed);
                    firstError ??= report.Error.Reason;
                }
            }
            for (long i = 0; i < options.Flows; i++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var flow = flows[i % flows.Length];
                var shift = TimeSpan.FromHours(3 * (i / flows.Length));
                flow.Start += shift;
                flow.End += shift;
                buffer.ResetWrittenCount();
                json.Write(flow);
                var value = buffer.WrittenSpan[..^1].ToArray(); // without the '\n'
                bytes += value.Length;
                var partition = new TopicPartition(kafka.Topic, new Partition((int)(i % options.Partitions)));
                while (true)
                {
                    try
                    {
                        producer.Produce(partition, new Message<Null, byte[]> { Value = value }, OnDelivery);
                        break;
                    }
                    catch (ProduceException<Null, byte[]> e) when (e.Error.Code == ErrorCode.Local_QueueFull)
                    {
                        producer.Poll(TimeSpan.FromMilliseconds(50));
                    }
                }
            }
            producer.Flush(cancellationToken);
        }
        if (failed > 0) throw new InvalidOperationException($"{failed} messages were not delivered: {firstError}");
        return new Produced(options.Flows, bytes, clock.Elapsed.TotalSeconds);
    }

    /// <summary>Null when every partition still starts at offset 0 and the offsets add up to N; else what is missing.</summary>
    private string? CheckRetention(KafkaOptions kafka)
    {
        var config = kafka.ToConsumerConfig();
        config.GroupId = "e2e-watermarks";
        using var consumer = new ConsumerBuilder<Ignore, Ignore>(config).SetLogHandler((_, _) => { }).Build();
        long total = 0;
        var dropped = new List<string>();
        for (int p = 0; p < options.Partitions; p++)
        {
            var marks = consumer.QueryWatermarkOffsets(new TopicPartition(kafka.Topic, p), TimeSpan.FromSeconds(10));
            total += marks.High.Value - marks.Low.Value;
            if (marks.Low.Value > 0) dropped.Add($"partition {p} starts at {marks.Low.Value}");
        }
        if (dropped.Count == 0 && total == options.Flows) return null;
        return $"{total:N0} of {options.Flows:N0} messages retained; " + string.Join(", ", dropped.Take(5)) + (dropped.Count > 5 ? ", ..." : "");
    }

    // ---- FlowPolicy -------------------------------------------------------------------------------------------------

    private async Task<IngestRun> RunFlowPolicyAsync(LocalClickHouseServer server, ClickHouseHttpClient client, KafkaOptions kafka, string leases,
        int round, CancellationToken cancellationToken)
    {
        var database = $"fp_{round}";
        var dll = Path.Combine(AppContext.BaseDirectory, "flowpolicy.dll");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var arg in new[]
                 {
                     dll, "ingest", "--brokers", kafka.Brokers, "--topic", kafka.Topic, "--group", database, "--clickhouse", server.Url.ToString(),
                     "--database", database, "--inventory", leases, "--format", "canonical", "--workers", options.Lanes.ToString(CultureInfo.InvariantCulture),
                     "--batch-interval", options.BatchIntervalSeconds.ToString(CultureInfo.InvariantCulture), "--rollup-interval", "0", "--metrics-interval", "5",
                 })
            start.ArgumentList.Add(arg);
        if (options.BatchRows is { } rows)
        {
            start.ArgumentList.Add("--batch-rows");
            start.ArgumentList.Add(rows.ToString(CultureInfo.InvariantCulture));
        }
        start.Environment["CI"] = "true";

        var serverPid = ServerPid(server);
        ProcessMemory.ResetPeak(serverPid);
        long serverBefore = ProcessMemory.Resident(serverPid);
        double serverCpuBefore = ProcessMemory.CpuSeconds(serverPid);
        if (Environment.GetEnvironmentVariable("E2E_PERF") is { Length: > 0 })
        {
            // For `perf record -p PID` on the worker (benchmarks/profile.sh explains the variables).
            start.Environment["DOTNET_PerfMapEnabled"] = "1";
            start.Environment["DOTNET_EnableWriteXorExecute"] = "0";
        }
        var clock = Stopwatch.StartNew();
        using var process = Process.Start(start)!;
        log.WriteLine($"e2e: flowpolicy ingest is pid {process.Id}");
        var stderr = new StringBuilder();
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (stderr) stderr.AppendLine(e.Data); };
        process.OutputDataReceived += (_, _) => { };
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
        try
        {
            var watch = await WatchAsync(client, database, "flows", clock, () => process.HasExited ? $"flowpolicy exited with {process.ExitCode}" : null, cancellationToken);
            long peak = ProcessMemory.Peak(process.Id);
            long serverDelta = ProcessMemory.Peak(serverPid) - serverBefore;
            double cpu = ProcessMemory.CpuSeconds(process.Id), serverCpu = ProcessMemory.CpuSeconds(serverPid) - serverCpuBefore;
            await StopAsync(process);
            string? problem = watch.Problem;
            if (problem is null)
            {
                var check = await client.QueryTsvAsync(
                    $"SELECT count(), uniqExact(kafka_partition, kafka_offset), countIf(dst_workload != ''), (SELECT count() FROM {ClickHouseSql.QuoteIdentifier(database, "flows_dead_letter")}) FROM {ClickHouseSql.QuoteIdentifier(database, "flows")}",
                    cancellationToken);
                var row = check[0].Select(v => long.Parse(v, CultureInfo.InvariantCulture)).ToArray();
                if (row[0] != options.Flows || row[1] != options.Flows) problem = $"{row[0]} rows, {row[1]} distinct positions, expected {options.Flows}";
                else if (row[3] != 0) problem = $"{row[3]} dead letters";
                else if (row[2] == 0) problem = "nothing was enriched";
            }
            if (problem is not null || Environment.GetEnvironmentVariable("E2E_VERBOSE") is { Length: > 0 })
            {
                string tail;
                lock (stderr) tail = string.Join('\n', stderr.ToString().Split('\n').TakeLast(8));
                log.WriteLine($"e2e: flowpolicy ingest output:\n{tail}");
            }
            await client.ExecuteAsync($"DROP DATABASE IF EXISTS {ClickHouseSql.QuoteIdentifier(database)}", cancellationToken);
            return watch.ToRun(FlowPolicySide, round, problem, peak, serverDelta, options.Flows) with { ConsumerCpuSeconds = cpu, ServerCpuSeconds = serverCpu };
        }
        finally
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
        }
    }

    private static async Task StopAsync(Process process)
    {
        if (process.HasExited) return;
        Posix.Terminate(process.Id);
        using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            await process.WaitForExitAsync(grace.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
        }
    }

    // ---- the Kafka client alone -------------------------------------------------------------------------------------

    /// <summary>
    /// <see cref="KafkaClientFloor"/> as a child process with its own group: the worker's Kafka client reading the same
    /// messages and discarding them. Its rate and CPU are over first to last message; nothing is stored.
    /// </summary>
    private async Task<IngestRun> RunKafkaClientAloneAsync(KafkaOptions kafka, int round, bool raw, CancellationToken cancellationToken)
    {
        var side = raw ? KafkaClientRawPoll : KafkaClientAlone;
        var start = new ProcessStartInfo(Environment.ProcessPath!) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var arg in new[] { "consume-child", kafka.Brokers, kafka.Topic, $"floor_{round}_{(raw ? "raw" : "client")}", "--flows", options.Flows.ToString(CultureInfo.InvariantCulture),
                     "--timeout", ((int)options.RunTimeout.TotalSeconds).ToString(CultureInfo.InvariantCulture) })
            start.ArgumentList.Add(arg);
        if (raw) start.ArgumentList.Add("--raw");
        // The CLI is built with TieredCompilationQuickJit=false (cli/FlowPolicy.Cli.csproj); the same for this child.
        start.Environment["DOTNET_TC_QuickJit"] = "0";
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        var stdout = await process.StandardOutput.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken);
        var fields = stdout.Trim().Split('\t');
        if (fields.Length != 5)
            return new IngestRun(side, round, false, $"consume-child exited with {process.ExitCode}: {(await stderr).Trim()}", 0, 0, 0, 0, -1, 0);
        long messages = long.Parse(fields[0], CultureInfo.InvariantCulture);
        double seconds = double.Parse(fields[2], CultureInfo.InvariantCulture), cpu = double.Parse(fields[3], CultureInfo.InvariantCulture);
        bool valid = process.ExitCode == 0 && messages == options.Flows;
        return new IngestRun(side, round, valid, valid ? null : $"{messages:N0} of {options.Flows:N0} messages", messages, 0, seconds,
            seconds > 0 ? messages / seconds : 0, long.Parse(fields[4], CultureInfo.InvariantCulture), 0) { ConsumerCpuSeconds = cpu };
    }

    /// <summary>The sides' names in the runs and the tables.</summary>
    public const string FlowPolicySide = "FlowPolicy", KafkaEngineSide = "Kafka engine", KafkaClientAlone = "Kafka client alone",
        KafkaClientRawPoll = "Kafka client alone, raw poll";

    // ---- ClickHouse Kafka engine ------------------------------------------------------------------------------------

    private async Task<IngestRun> RunKafkaEngineAsync(LocalClickHouseServer server, ClickHouseHttpClient client, KafkaOptions kafka, int round,
        CancellationToken cancellationToken)
    {
        var database = $"ke_{round}";
        await client.ExecuteAsync($"CREATE DATABASE IF NOT EXISTS {ClickHouseSql.QuoteIdentifier(database)}", cancellationToken);
        foreach (var statement in KafkaEngineSchema.Create(database, kafka.Brokers, kafka.Topic, group: database, options.Consumers, withQueue: false))
            await client.ExecuteAsync(statement, cancellationToken);

        var serverPid = ServerPid(server);
        ProcessMemory.ResetPeak(serverPid);
        long serverBefore = ProcessMemory.Resident(serverPid);
        double serverCpuBefore = ProcessMemory.CpuSeconds(serverPid);
        var clock = Stopwatch.StartNew();
        // The Kafka table and the view are created last: the view's attachment is what starts the consumers.
        foreach (var statement in KafkaEngineSchema.Create(database, kafka.Brokers, kafka.Topic, group: database, options.Consumers, withQueue: true))
            await client.ExecuteAsync(statement, cancellationToken);
        var watch = await WatchAsync(client, database, KafkaEngineSchema.Target, clock, () => null, cancellationToken);
        long serverPeak = ProcessMemory.Peak(serverPid);
        double serverCpu = ProcessMemory.CpuSeconds(serverPid) - serverCpuBefore;
        foreach (var statement in KafkaEngineSchema.Drop(database))
            await client.ExecuteAsync(statement, cancellationToken);
        string? problem = watch.Problem;
        if (problem is not null) log.WriteLine("e2e: ClickHouse log, Kafka lines:\n" + KafkaLogLines(server));
        if (problem is null)
        {
            var count = long.Parse((await client.QueryScalarAsync($"SELECT count() FROM {ClickHouseSql.QuoteIdentifier(database, KafkaEngineSchema.Target)}", cancellationToken))!,
                CultureInfo.InvariantCulture);
            if (count != options.Flows) problem = $"{count} rows after stopping, expected {options.Flows}";
        }
        await client.ExecuteAsync($"DROP DATABASE IF EXISTS {ClickHouseSql.QuoteIdentifier(database)}", cancellationToken);
        // The Kafka engine runs inside the server: its memory is the server's growth during the run.
        return watch.ToRun(KafkaEngineSide, round, problem, serverPeak - serverBefore, serverPeak - serverBefore, options.Flows) with { ServerCpuSeconds = serverCpu };
    }

    private static string KafkaLogLines(LocalClickHouseServer server)
    {
        var lines = new List<string>();
        foreach (var name in new[] { "server.log", "server.err.log" })
        {
            var path = Path.Combine(server.DataDirectory, "log", name);
            if (!File.Exists(path)) continue;
            using var reader = new StreamReader(new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite));
            while (reader.ReadLine() is { } line)
                if (line.Contains("Kafka", StringComparison.OrdinalIgnoreCase) || line.Contains("<Error>", StringComparison.Ordinal)) lines.Add(line);
        }
        return string.Join('\n', lines.TakeLast(40));
    }

    // ---- measuring ------------------------------------------------------------------------------------------------

    private sealed record Watch(double FirstSeconds, long FirstCount, double LastSeconds, long LastCount, string? Problem)
    {
        public IngestRun ToRun(string side, int round, string? problem, long consumerPeak, long serverDelta, long expected)
        {
            double span = LastSeconds - FirstSeconds;
            double rate = span > 0 ? (LastCount - FirstCount) / span : 0;
            return new IngestRun(side, round, problem is null && LastCount == expected, problem ?? (LastCount == expected ? null : $"{LastCount} of {expected} rows"),
                LastCount, FirstSeconds, span, rate, consumerPeak, serverDelta);
        }
    }

    /// <summary>
    /// Polls count() until it reaches N (or stops moving for too long). The rate is (rows at the end - rows at the first
    /// sighting) / (time between): the sustained rate, without the group join and the first batch's wait.
    /// </summary>
    private async Task<Watch> WatchAsync(ClickHouseHttpClient client, string database, string table, Stopwatch clock, Func<string?> died,
        CancellationToken cancellationToken)
    {
        var sql = $"SELECT count() FROM {ClickHouseSql.QuoteIdentifier(database, table)}";
        double first = -1, last = -1, lastChange = 0;
        long firstCount = 0, count = 0;
        while (true)
        {
            await Task.Delay(Poll, cancellationToken);
            long now;
            try
            {
                now = long.Parse((await client.QueryScalarAsync(sql, cancellationToken))!, CultureInfo.InvariantCulture);
            }
            catch (ClickHouseServerException)
            {
                now = 0; // the table does not exist yet (the worker migrates first)
            }
            double t = clock.Elapsed.TotalSeconds;
            if (now != count) lastChange = t;
            count = now;
            if (count > 0 && first < 0)
            {
                first = t;
                firstCount = count;
            }
            if (count >= options.Flows)
            {
                last = t;
                // A few more polls: a side that writes more than N (duplicates) shows it now.
                await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken);
                count = long.Parse((await client.QueryScalarAsync(sql, cancellationToken))!, CultureInfo.InvariantCulture);
                return new Watch(first, firstCount, last, count, count == options.Flows ? null : $"{count} rows (duplicates)");
            }
            if (died() is { } reason) return new Watch(first, firstCount, t, count, reason);
            if (clock.Elapsed > options.RunTimeout)
                return new Watch(first, firstCount, t, count, $"timed out after {options.RunTimeout.TotalSeconds:F0} s with {count:N0} rows");
            if (first >= 0 && t - lastChange > 60)
                return new Watch(first, firstCount, t, count, $"stalled at {count:N0} rows for 60 s");
        }
    }

    /// <summary>The server's pid (LocalClickHouseServer does not expose its process): found by its data directory.</summary>
    internal static int ServerPid(LocalClickHouseServer server)
    {
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid)) continue;
            try
            {
                var cmdline = File.ReadAllText(Path.Combine(dir, "cmdline"));
                if (cmdline.Contains(server.DataDirectory, StringComparison.Ordinal) && cmdline.Contains("clickhouse", StringComparison.Ordinal)) return pid;
            }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
        }
        throw new InvalidOperationException("The ClickHouse server process was not found.");
    }
}

using System.Globalization;
using System.Text.RegularExpressions;
using FlowPolicy.Suggest.Reports;
using YamlDotNet.RepresentationModel;

namespace FlowPolicy.Cli.Serve;

/// <summary>The job kinds serve knows; a job's name defaults to its kind.</summary>
internal static class JobKinds
{
    public const string Analyze = "analyze";
    public const string Suggest = "suggest";
    public const string Rollup = "rollup";
    public const string Retention = "retention";
    public const string Anomalies = "anomalies";
    public static readonly IReadOnlyList<string> All = [Analyze, Suggest, Rollup, Retention, Anomalies];
}

/// <summary>One scheduled job: what it does (kind), when (Quartz cron, UTC) and over how much data (window).</summary>
internal sealed class JobConfig
{
    public required string Name { get; init; }
    public required string Kind { get; init; }
    /// <summary>Quartz cron with seconds: "sec min hour day-of-month month day-of-week", e.g. "0 5 * * * ?" (hourly at :05).</summary>
    public required string Schedule { get; init; }
    /// <summary>
    /// Data read by analyze/suggest: [end - Window, end), end being the fire time rounded down to the hour (the edge
    /// rollups are hourly). Null: the schedule's own period, rounded to hours.
    /// </summary>
    public TimeSpan? Window { get; init; }
    /// <summary>Policy formats a suggest job writes.</summary>
    public IReadOnlyList<string> Emit { get; init; } = SuggestionOutputOptions.AllFormats;
    /// <summary>How a suggest job lays out the policy files, as `suggest --layout`.</summary>
    public SuggestionLayout Layout { get; init; } = SuggestionLayout.Workload;

    /// <summary>The `layout` values, named as `suggest --layout` names them.</summary>
    public static readonly IReadOnlyDictionary<string, SuggestionLayout> Layouts = new Dictionary<string, SuggestionLayout>(StringComparer.Ordinal)
    {
        ["workload"] = SuggestionLayout.Workload,
        ["namespace"] = SuggestionLayout.Namespace,
    };
    public bool Enabled { get; init; } = true;
    /// <summary>anomalies: history read before the window (default 28 days: four of each hour of the week).</summary>
    public TimeSpan? History { get; init; }

    /// <summary>suggest: write a report whose suggestion has no rules (by default the window is skipped, the latest report stays the latest).</summary>
    public bool AllowEmpty { get; init; }
    /// <summary>
    /// suggest: skip a window whose suggestion has fewer rules than this share of the previous report's (0 turns it off),
    /// as `suggest --shrink-threshold`.
    /// </summary>
    public double ShrinkThreshold { get; init; } = 0.5;
    /// <summary>
    /// suggest: L7 rules and toFQDNs where the window's edges carry L7 facts (flows_l7, from Hubble), as `suggest --l7`.
    /// Off by default: Cilium then sends those ports through its proxy (docs/l7.md).
    /// </summary>
    public bool L7 { get; init; }

    /// <summary>The same job reading another window length (`jobs run --from --to`).</summary>
    public JobConfig WithWindow(TimeSpan window) => new()
    {
        Name = Name, Kind = Kind, Schedule = Schedule, Window = window, Emit = Emit, Layout = Layout, Enabled = Enabled,
        AllowEmpty = AllowEmpty, ShrinkThreshold = ShrinkThreshold, History = History, L7 = L7,
    };
}

/// <summary>
/// `flowpolicy serve --config FILE`: where the data is and what runs when. YAML or JSON (JSON is read as YAML).
/// String values may reference environment variables as ${NAME} (secrets stay out of the file); ClickHouse
/// credentials also come from FLOWPOLICY_CLICKHOUSE_USER / _PASSWORD / _PASSWORD_FILE. Reference: docs/serve.md.
/// </summary>
internal sealed class ServeConfig
{
    public string KafkaBrokers { get; set; } = Ingest.Kafka.KafkaOptions.DefaultBrokers;
    public string KafkaTopic { get; set; } = Ingest.Kafka.KafkaOptions.DefaultTopic;
    public string KafkaGroup { get; set; } = Ingest.Kafka.KafkaOptions.DefaultGroup;
    /// <summary>kafka.group_instance_id: null for the pod or host name, "none" for dynamic membership.</summary>
    public string? KafkaGroupInstanceId { get; set; }
    public List<string> KafkaProperties { get; } = [];

    public string ClickHouseUrl { get; set; } = "http://127.0.0.1:8123/";
    public string ClickHouseDatabase { get; set; } = "flowpolicy";

    /// <summary>Run the ingest workers in this process (off: another process ingests; serve only schedules).</summary>
    public bool IngestEnabled { get; set; } = true;
    public int IngestWorkers { get; set; } = Math.Max(1, Environment.ProcessorCount);
    public int IngestBatchRows { get; set; } = 50_000;
    public TimeSpan IngestBatchInterval { get; set; } = TimeSpan.FromSeconds(2);

    public List<string> Inventory { get; } = [];
    /// <summary>Directory of intended policy files; analyze needs it, suggest uses it for the diff.</summary>
    public string? Intent { get; set; }
    /// <summary>`istio.root_namespace` and `istio.trust_domain`: the mesh the AuthorizationPolicies are judged and written for.</summary>
    public Analytics.Intent.IstioMesh Istio { get; set; } = Analytics.Intent.IstioMesh.Default;
    /// <summary>`namespaces.include`: only these namespaces (patterns) get policies / are analysed.</summary>
    public List<string> IncludeNamespaces { get; } = [];
    /// <summary>`namespaces.exclude`: these namespaces (patterns) are left out; suggest also leaves out the system namespaces unless `include` is given.</summary>
    public List<string> ExcludeNamespaces { get; } = [];

    /// <summary>The scope of suggest jobs (system namespaces excluded by default, as `flowpolicy suggest`).</summary>
    public Core.Edges.NamespaceScope PolicyScope => Core.Edges.NamespaceScope.ForPolicies(IncludeNamespaces, ExcludeNamespaces);
    /// <summary>The scope of analyze jobs (only what the config names, as `flowpolicy analyze`).</summary>
    public Core.Edges.NamespaceScope AnalysisScope => Core.Edges.NamespaceScope.Exactly(IncludeNamespaces, ExcludeNamespaces);

    /// <summary>Where reports go: OUTPUT/JOB/DATE/.</summary>
    public string Output { get; set; } = "reports";

    public string HttpListen { get; set; } = "127.0.0.1";
    public int HttpPort { get; set; } = 8089;
    public bool HttpEnabled { get; set; } = true;
    /// <summary>Serve /metrics (Prometheus text format) on the HTTP endpoint; on by default, as /healthz is.</summary>
    public bool HttpMetrics { get; set; } = true;

    /// <summary>Windows missed during downtime that are still run, per job (older ones are logged and skipped).</summary>
    public int CatchUpMaxWindows { get; set; } = 48;
    public int RetryAttempts { get; set; } = 3;
    public TimeSpan RetryBackoff { get; set; } = TimeSpan.FromSeconds(30);
    public TimeSpan RetryMaxBackoff { get; set; } = TimeSpan.FromMinutes(10);

    public List<JobConfig> Jobs { get; } = [];

    /// <summary>`webhook`: where anomalies and SLO breaches are sent; null: nowhere.</summary>
    public WebhookOptions? Webhook { get; set; }

    public string? SourcePath { get; private set; }

    /// <summary>Jobs when the file names none: hourly analytics, daily suggestions, rollups and housekeeping.</summary>
    public static IReadOnlyList<JobConfig> DefaultJobs() =>
    [
        new() { Name = JobKinds.Rollup, Kind = JobKinds.Rollup, Schedule = "0 */10 * * * ?" },
        new() { Name = JobKinds.Analyze, Kind = JobKinds.Analyze, Schedule = "0 5 * * * ?", Window = TimeSpan.FromHours(1) },
        new() { Name = JobKinds.Suggest, Kind = JobKinds.Suggest, Schedule = "0 30 2 * * ?", Window = TimeSpan.FromDays(7) },
        new() { Name = JobKinds.Retention, Kind = JobKinds.Retention, Schedule = "0 15 3 * * ?" },
        new() { Name = JobKinds.Anomalies, Kind = JobKinds.Anomalies, Schedule = "0 7 * * * ?", Window = TimeSpan.FromHours(1) },
    ];

    public JobConfig Job(string name) => Jobs.FirstOrDefault(j => j.Name == name)
        ?? throw new ConfigException($"no job named '{name}'; configured: {string.Join(", ", Jobs.Select(j => j.Name))}");

    public void Validate()
    {
        if (!Uri.TryCreate(ClickHouseUrl, UriKind.Absolute, out _)) throw new ConfigException($"clickhouse.url '{ClickHouseUrl}' is not a URL");
        if (HttpPort is < 0 or > 65535) throw new ConfigException("http.port must be 0..65535 (0 picks a free port)");
        if (CatchUpMaxWindows < 0) throw new ConfigException("catch_up.max_windows must be 0 or more");
        if (RetryAttempts is < 1 or > 100) throw new ConfigException("retry.attempts must be 1..100");
        if (RetryBackoff < TimeSpan.Zero || RetryMaxBackoff < RetryBackoff) throw new ConfigException("retry.backoff must be >= 0 and retry.max_backoff >= retry.backoff");
        if (IngestWorkers < 1) throw new ConfigException("ingest.workers must be at least 1");
        try
        {
            Istio.Validate();
        }
        catch (ArgumentException e)
        {
            throw new ConfigException("istio: " + e.Message);
        }
        if (IncludeNamespaces.Concat(ExcludeNamespaces).Any(string.IsNullOrWhiteSpace)) throw new ConfigException("namespaces.include and namespaces.exclude must not hold empty patterns");
        foreach (var job in Jobs)
        {
            if (!JobKinds.All.Contains(job.Kind)) throw new ConfigException($"jobs.{job.Name}.kind '{job.Kind}' is unknown; use one of: {string.Join(", ", JobKinds.All)}");
            try
            {
                CronWindows.Parse(job.Schedule);
            }
            catch (FormatException e)
            {
                throw new ConfigException($"jobs.{job.Name}.schedule '{job.Schedule}': {e.Message}");
            }
            if (job.Window is { } w && (w <= TimeSpan.Zero || w.Ticks % TimeSpan.TicksPerHour != 0))
                throw new ConfigException($"jobs.{job.Name}.window must be whole hours (the edge rollups are hourly), e.g. 1h or 7d");
            if (job.Kind == JobKinds.Analyze && Intent is null)
                throw new ConfigException($"jobs.{job.Name} (analyze) needs 'intent: DIR', the intended policy files");
            if (job.ShrinkThreshold is < 0 or > 1) throw new ConfigException($"jobs.{job.Name}.shrink_threshold must be 0..100 (percent)");
            foreach (var format in job.Emit)
                if (!SuggestionOutputOptions.AllFormats.Contains(format))
                    throw new ConfigException($"jobs.{job.Name}.emit: unknown format '{format}'; use any of: {string.Join(",", SuggestionOutputOptions.AllFormats)}");
        }
    }

    public static ServeConfig Load(string path, Func<string, string?>? environment = null)
    {
        if (!File.Exists(path)) throw new ConfigException($"no such config file '{path}'");
        var config = Parse(File.ReadAllText(path), path, environment);
        config.SourcePath = Path.GetFullPath(path);
        // Relative paths in the file are relative to the file, as an operator reading it expects.
        var baseDir = Path.GetDirectoryName(config.SourcePath)!;
        string Resolve(string p) => Path.IsPathRooted(p) ? p : Path.GetFullPath(Path.Combine(baseDir, p));
        for (int i = 0; i < config.Inventory.Count; i++) config.Inventory[i] = Resolve(config.Inventory[i]);
        if (config.Intent is not null) config.Intent = Resolve(config.Intent);
        config.Output = Resolve(config.Output);
        return config;
    }

    /// <summary>Parses YAML or JSON text; <paramref name="source"/> names it in errors.</summary>
    public static ServeConfig Parse(string text, string source = "config", Func<string, string?>? environment = null)
    {
        environment ??= Environment.GetEnvironmentVariable;
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(text));
        }
        catch (YamlDotNet.Core.YamlException e)
        {
            throw new ConfigException($"{source}:{e.Start.Line}: {e.Message}");
        }
        var config = new ServeConfig();
        if (stream.Documents.Count == 0 || stream.Documents[0].RootNode is YamlScalarNode { Value: null or "" })
        {
            config.Jobs.AddRange(DefaultJobs());
            return config;
        }
        var reader = new Reader(source, environment);
        var root = reader.Map(stream.Documents[0].RootNode, "");
        bool jobsGiven = false;
        foreach (var (key, node) in root)
        {
            switch (key)
            {
                case "kafka":
                    foreach (var (k, v) in reader.Map(node, "kafka"))
                        switch (k)
                        {
                            case "brokers": config.KafkaBrokers = reader.String(v, "kafka.brokers"); break;
                            case "topic": config.KafkaTopic = reader.String(v, "kafka.topic"); break;
                            case "group": config.KafkaGroup = reader.String(v, "kafka.group"); break;
                            case "group_instance_id": config.KafkaGroupInstanceId = reader.String(v, "kafka.group_instance_id"); break;
                            case "properties":
                                foreach (var (pk, pv) in reader.Map(v, "kafka.properties")) config.KafkaProperties.Add(pk + "=" + reader.String(pv, "kafka.properties." + pk));
                                break;
                            default: throw reader.Unknown(v, "kafka." + k);
                        }
                    break;
                case "clickhouse":
                    foreach (var (k, v) in reader.Map(node, "clickhouse"))
                        switch (k)
                        {
                            case "url": config.ClickHouseUrl = reader.String(v, "clickhouse.url"); break;
                            case "database": config.ClickHouseDatabase = reader.String(v, "clickhouse.database"); break;
                            default: throw reader.Unknown(v, "clickhouse." + k);
                        }
                    break;
                case "ingest":
                    foreach (var (k, v) in reader.Map(node, "ingest"))
                        switch (k)
                        {
                            case "enabled": config.IngestEnabled = reader.Bool(v, "ingest.enabled"); break;
                            case "workers": config.IngestWorkers = reader.Int(v, "ingest.workers"); break;
                            case "batch_rows": config.IngestBatchRows = reader.Int(v, "ingest.batch_rows"); break;
                            case "batch_interval": config.IngestBatchInterval = reader.Duration(v, "ingest.batch_interval"); break;
                            default: throw reader.Unknown(v, "ingest." + k);
                        }
                    break;
                case "inventory": config.Inventory.AddRange(reader.Strings(node, "inventory")); break;
                case "intent": config.Intent = reader.String(node, "intent"); break;
                case "istio":
                    foreach (var (k, v) in reader.Map(node, "istio"))
                        switch (k)
                        {
                            case "root_namespace": config.Istio = config.Istio with { RootNamespace = reader.String(v, "istio.root_namespace") }; break;
                            case "trust_domain": config.Istio = config.Istio with { TrustDomain = reader.String(v, "istio.trust_domain") }; break;
                            default: throw reader.Unknown(v, "istio." + k);
                        }
                    break;
                case "output": config.Output = reader.String(node, "output"); break;
                case "namespaces":
                    foreach (var (k, v) in reader.Map(node, "namespaces"))
                        switch (k)
                        {
                            case "include": config.IncludeNamespaces.AddRange(reader.Strings(v, "namespaces.include")); break;
                            case "exclude": config.ExcludeNamespaces.AddRange(reader.Strings(v, "namespaces.exclude")); break;
                            default: throw reader.Unknown(v, "namespaces." + k);
                        }
                    break;
                case "http":
                    foreach (var (k, v) in reader.Map(node, "http"))
                        switch (k)
                        {
                            case "enabled": config.HttpEnabled = reader.Bool(v, "http.enabled"); break;
                            case "listen": config.HttpListen = reader.String(v, "http.listen"); break;
                            case "port": config.HttpPort = reader.Int(v, "http.port"); break;
                            case "metrics": config.HttpMetrics = reader.Bool(v, "http.metrics"); break;
                            default: throw reader.Unknown(v, "http." + k);
                        }
                    break;
                case "catch_up":
                    foreach (var (k, v) in reader.Map(node, "catch_up"))
                        switch (k)
                        {
                            case "max_windows": config.CatchUpMaxWindows = reader.Int(v, "catch_up.max_windows"); break;
                            default: throw reader.Unknown(v, "catch_up." + k);
                        }
                    break;
                case "retry":
                    foreach (var (k, v) in reader.Map(node, "retry"))
                        switch (k)
                        {
                            case "attempts": config.RetryAttempts = reader.Int(v, "retry.attempts"); break;
                            case "backoff": config.RetryBackoff = reader.Duration(v, "retry.backoff"); break;
                            case "max_backoff": config.RetryMaxBackoff = reader.Duration(v, "retry.max_backoff"); break;
                            default: throw reader.Unknown(v, "retry." + k);
                        }
                    break;
                case "webhook": config.Webhook = ReadWebhook(reader, node); break;
                case "jobs":
                    jobsGiven = true;
                    foreach (var (name, jobNode) in reader.Map(node, "jobs")) config.Jobs.Add(ReadJob(reader, name, jobNode));
                    break;
                default: throw reader.Unknown(node, key);
            }
        }
        if (!jobsGiven) config.Jobs.AddRange(DefaultJobs());
        return config;
    }

    private static JobConfig ReadJob(Reader reader, string name, YamlNode node)
    {
        string? kind = null, schedule = null;
        TimeSpan? window = null, history = null;
        IReadOnlyList<string>? emit = null;
        var layout = SuggestionLayout.Workload;
        bool enabled = true, allowEmpty = false, l7 = false;
        double shrinkThreshold = 0.5;
        foreach (var (k, v) in reader.Map(node, "jobs." + name))
            switch (k)
            {
                case "kind": kind = reader.String(v, $"jobs.{name}.kind"); break;
                case "schedule": schedule = reader.String(v, $"jobs.{name}.schedule"); break;
                case "window": window = reader.Duration(v, $"jobs.{name}.window"); break;
                case "history": history = reader.Duration(v, $"jobs.{name}.history"); break;
                case "emit": emit = reader.Strings(v, $"jobs.{name}.emit"); break;
                case "layout":
                    var value = reader.String(v, $"jobs.{name}.layout");
                    if (!JobConfig.Layouts.TryGetValue(value, out layout))
                        throw reader.Error(v, $"'jobs.{name}.layout' is '{value}'; use one of: {string.Join(", ", JobConfig.Layouts.Keys)}");
                    break;
                case "enabled": enabled = reader.Bool(v, $"jobs.{name}.enabled"); break;
                case "allow_empty": allowEmpty = reader.Bool(v, $"jobs.{name}.allow_empty"); break;
                case "l7": l7 = reader.Bool(v, $"jobs.{name}.l7"); break;
                case "shrink_threshold": shrinkThreshold = reader.Int(v, $"jobs.{name}.shrink_threshold") / 100.0; break;
                default: throw reader.Unknown(v, $"jobs.{name}.{k}");
            }
        if (schedule is null) throw new ConfigException($"{reader.Source}: jobs.{name} needs a schedule (Quartz cron with seconds, e.g. \"0 5 * * * ?\")");
        return new JobConfig { Name = name, Kind = kind ?? name, Schedule = schedule, Window = window, Emit = emit ?? SuggestionOutputOptions.AllFormats, Layout = layout, Enabled = enabled,
            AllowEmpty = allowEmpty, ShrinkThreshold = shrinkThreshold, History = history, L7 = l7 };
    }

    private static WebhookOptions ReadWebhook(Reader reader, YamlNode node)
    {
        Uri? url = null;
        var defaults = new WebhookOptions { Url = new Uri("http://unset/") };
        var format = defaults.Format;
        TimeSpan timeout = defaults.Timeout, backoff = defaults.Backoff, maxBackoff = defaults.MaxBackoff;
        int attempts = defaults.Attempts, queue = defaults.Queue;
        double objective = defaults.ComplianceObjective;
        bool anomalies = defaults.Anomalies, slo = defaults.SloBreaches;
        foreach (var (k, v) in reader.Map(node, "webhook"))
            switch (k)
            {
                case "url":
                    var text = reader.String(v, "webhook.url");
                    if (!Uri.TryCreate(text, UriKind.Absolute, out url) || url.Scheme is not ("http" or "https"))
                        throw reader.Error(v, $"'webhook.url' must be an http or https URL, not '{text}'");
                    break;
                case "format":
                    var name = reader.String(v, "webhook.format");
                    format = name switch
                    {
                        "alertmanager" => WebhookFormat.Alertmanager,
                        "slack" => WebhookFormat.Slack,
                        _ => throw reader.Error(v, $"'webhook.format' is '{name}'; use alertmanager or slack"),
                    };
                    break;
                case "timeout": timeout = reader.Duration(v, "webhook.timeout"); break;
                case "attempts": attempts = reader.Int(v, "webhook.attempts"); break;
                case "backoff": backoff = reader.Duration(v, "webhook.backoff"); break;
                case "max_backoff": maxBackoff = reader.Duration(v, "webhook.max_backoff"); break;
                case "queue": queue = reader.Int(v, "webhook.queue"); break;
                case "slo":
                    var percent = reader.String(v, "webhook.slo");
                    if (!double.TryParse(percent.TrimEnd('%'), NumberStyles.Float, CultureInfo.InvariantCulture, out var p)) throw reader.Error(v, $"'webhook.slo' must be a percentage such as 99 or 99.5, not '{percent}'");
                    objective = p / 100;
                    break;
                case "send":
                    var events = reader.Strings(v, "webhook.send");
                    foreach (var e in events)
                        if (e is not ("anomalies" or "slo_breaches")) throw reader.Error(v, $"'webhook.send' holds '{e}'; use anomalies and/or slo_breaches");
                    anomalies = events.Contains("anomalies");
                    slo = events.Contains("slo_breaches");
                    break;
                default: throw reader.Unknown(v, "webhook." + k);
            }
        if (url is null) throw reader.Error(node, "'webhook' needs a url (the Alertmanager /api/v2/alerts or Slack incoming-webhook address)");
        var options = new WebhookOptions
        {
            Url = url, Format = format, Timeout = timeout, Attempts = attempts, Backoff = backoff, MaxBackoff = maxBackoff, Queue = queue,
            ComplianceObjective = objective, Anomalies = anomalies, SloBreaches = slo,
        };
        try
        {
            options.Validate();
        }
        catch (ArgumentException e)
        {
            throw reader.Error(node, e.Message);
        }
        return options;
    }

    /// <summary>"90s", "5m", "1h", "7d", "500ms" or a plain number of seconds.</summary>
    public static TimeSpan ParseDuration(string text)
    {
        var match = Regex.Match(text.Trim(), @"^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$");
        if (!match.Success) throw new FormatException($"'{text}' is not a duration; use e.g. 30s, 5m, 1h, 7d");
        double n = double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
        return match.Groups[2].Value switch
        {
            "ms" => TimeSpan.FromMilliseconds(n),
            "m" => TimeSpan.FromMinutes(n),
            "h" => TimeSpan.FromHours(n),
            "d" => TimeSpan.FromDays(n),
            _ => TimeSpan.FromSeconds(n),
        };
    }

    private sealed class Reader(string source, Func<string, string?> environment)
    {
        private static readonly Regex Variable = new(@"\$\{([A-Za-z_][A-Za-z0-9_]*)\}");
        public string Source => source;

        public ConfigException Error(YamlNode node, string message) => new($"{source}:{node.Start.Line}: {message}");

        public ConfigException Unknown(YamlNode node, string key) => Error(node, $"unknown setting '{key}' (see docs/serve.md for the reference)");

        public IEnumerable<(string Key, YamlNode Value)> Map(YamlNode node, string path)
        {
            if (node is YamlScalarNode { Value: null or "" }) yield break;
            if (node is not YamlMappingNode map) throw Error(node, $"'{(path.Length == 0 ? "the document" : path)}' must be a mapping (key: value)");
            foreach (var (k, v) in map.Children)
                yield return (((YamlScalarNode)k).Value ?? "", v);
        }

        public string String(YamlNode node, string path)
        {
            if (node is not YamlScalarNode scalar || scalar.Value is null) throw Error(node, $"'{path}' must be a single value");
            return Variable.Replace(scalar.Value, m => environment(m.Groups[1].Value)
                ?? throw Error(node, $"'{path}' uses ${{{m.Groups[1].Value}}}, which is not set in the environment"));
        }

        public IReadOnlyList<string> Strings(YamlNode node, string path) => node switch
        {
            YamlSequenceNode list => list.Children.Select(c => String(c, path)).ToList(),
            _ => String(node, path).Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
        };

        public int Int(YamlNode node, string path) =>
            int.TryParse(String(node, path), NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) ? n : throw Error(node, $"'{path}' must be a whole number");

        public bool Bool(YamlNode node, string path) => String(node, path).ToLowerInvariant() switch
        {
            "true" or "yes" or "on" => true,
            "false" or "no" or "off" => false,
            _ => throw Error(node, $"'{path}' must be true or false"),
        };

        public TimeSpan Duration(YamlNode node, string path)
        {
            try
            {
                return ParseDuration(String(node, path));
            }
            catch (FormatException e)
            {
                throw Error(node, $"'{path}': {e.Message}");
            }
        }
    }
}

/// <summary>A config file problem, naming the file, line and setting; exits 2.</summary>
internal sealed class ConfigException(string message) : Exception(message);

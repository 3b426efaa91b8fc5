using System.Text.Json;
using System.Text.RegularExpressions;
using FlowPolicy.Cli;
using FlowPolicy.Cli.Serve;
using FlowPolicy.ClickHouse;
using FlowPolicy.Tests.Cli;
using YamlDotNet.RepresentationModel;

namespace FlowPolicy.Tests.Deploy;

/// <summary>
/// No Docker engine or Kubernetes API runs here, so the deployment files are checked the way their consumers would read
/// them: YAML parses; kinds, apiVersions and required fields; every reference (service, Secret key, ConfigMap, volume,
/// mount, probe port, file) resolves; every FLOWPOLICY_ variable exists in the code; every flowpolicy command line
/// parses with the real CLI command tree.
/// </summary>
public sealed partial class DeployManifestTests
{
    private static string Root => CliProcess.RepositoryRoot();
    private static string Kubernetes => Path.Combine(Root, "deploy", "kubernetes");
    private static string Compose => Path.Combine(Root, "deploy", "compose");

    /// <summary>The FLOWPOLICY_ variables the code reads (ClickHouseOptions; LocalClickHouseServer for tests) plus the
    /// ones the Grafana provisioning file reads (Grafana expands them, FlowPolicy does not).</summary>
    private static readonly HashSet<string> KnownVariables =
    [
        ClickHouseOptions.UserVariable, ClickHouseOptions.PasswordVariable, ClickHouseOptions.PasswordFileVariable,
        "FLOWPOLICY_GRAFANA_CLICKHOUSE_HOST", "FLOWPOLICY_GRAFANA_CLICKHOUSE_USER", "FLOWPOLICY_GRAFANA_CLICKHOUSE_PASSWORD",
    ];

    /// <summary>apiVersion/kind pairs used, with the fields the API server requires of each.</summary>
    private static readonly Dictionary<(string, string), string[]> Schemas = new()
    {
        [("v1", "Namespace")] = ["metadata.name"],
        [("v1", "ConfigMap")] = ["metadata.name", "metadata.namespace", "data"],
        [("v1", "Secret")] = ["metadata.name", "metadata.namespace", "type"],
        [("v1", "Service")] = ["metadata.name", "metadata.namespace", "spec.selector", "spec.ports"],
        [("apps/v1", "Deployment")] = ["metadata.name", "metadata.namespace", "spec.selector.matchLabels", "spec.template.metadata.labels", "spec.template.spec.containers"],
        [("batch/v1", "Job")] = ["metadata.name", "metadata.namespace", "spec.template.spec.containers", "spec.template.spec.restartPolicy"],
        [("kustomize.config.k8s.io/v1beta1", "Kustomization")] = ["resources"],
    };

    private static List<(string File, YamlMappingNode Doc)> KubernetesDocuments()
    {
        var docs = new List<(string, YamlMappingNode)>();
        foreach (var file in Directory.GetFiles(Kubernetes, "*.yaml").Order(StringComparer.Ordinal))
        {
            var stream = new YamlStream();
            using (var reader = new StringReader(File.ReadAllText(file))) stream.Load(reader);
            docs.AddRange(stream.Documents.Select(d => (Path.GetFileName(file), Assert.IsType<YamlMappingNode>(d.RootNode))));
        }
        return docs;
    }

    [Fact]
    public void Kubernetes_manifests_have_known_kinds_and_every_required_field()
    {
        var docs = KubernetesDocuments();
        Assert.Contains(docs, d => Kind(d.Doc) == "Deployment" && Name(d.Doc) == "flowpolicy-ingest");
        Assert.Contains(docs, d => Kind(d.Doc) == "Deployment" && Name(d.Doc) == "flowpolicy-scheduler");
        foreach (var (file, doc) in docs)
        {
            var key = (Scalar(doc, "apiVersion")!, Kind(doc));
            Assert.True(Schemas.TryGetValue(key, out var required), $"{file}: unexpected {key}");
            foreach (var path in required) Assert.True(Node(doc, path) is not null, $"{file} {Kind(doc)}: {path} is missing");
            if (Kind(doc) is "Deployment")
            {
                var labels = (YamlMappingNode)Node(doc, "spec.template.metadata.labels")!;
                foreach (var (k, v) in (YamlMappingNode)Node(doc, "spec.selector.matchLabels")!)
                    Assert.True(labels.Children.TryGetValue(k, out var value) && value.ToString() == v.ToString(), $"{file}: selector {k} does not match the pod labels");
            }
        }
        var kustomization = docs.Single(d => Kind(d.Doc) == "Kustomization").Doc;
        foreach (var resource in (YamlSequenceNode)kustomization["resources"])
            Assert.True(File.Exists(Path.Combine(Kubernetes, resource.ToString())), $"kustomization lists missing {resource}");
        var scheduler = docs.Single(d => Name(d.Doc) == "flowpolicy-scheduler" && Kind(d.Doc) == "Deployment").Doc;
        Assert.Equal("1", Node(scheduler, "spec.replicas")!.ToString());
        Assert.Equal("Recreate", Node(scheduler, "spec.strategy.type")!.ToString());
    }

    [Fact]
    public void Kubernetes_containers_reference_existing_secrets_config_and_mounts_and_run_valid_command_lines()
    {
        var docs = KubernetesDocuments();
        var secrets = docs.Where(d => Kind(d.Doc) == "Secret").ToDictionary(d => Name(d.Doc), d => Keys(d.Doc, "stringData"));
        var configMaps = docs.Where(d => Kind(d.Doc) == "ConfigMap").ToDictionary(d => Name(d.Doc), d => Keys(d.Doc, "data"));
        foreach (var (file, doc) in docs.Where(d => Kind(d.Doc) is "Deployment" or "Job"))
        {
            var spec = (YamlMappingNode)Node(doc, "spec.template.spec")!;
            var volumes = spec.Children.TryGetValue("volumes", out var v) ? ((YamlSequenceNode)v).Cast<YamlMappingNode>().ToDictionary(x => x["name"].ToString()) : [];
            foreach (var volume in volumes.Values)
            {
                if (Node(volume, "secret.secretName") is { } secret) Assert.True(secrets.ContainsKey(secret.ToString()), $"{file}: Secret {secret} is not defined");
                if (Node(volume, "configMap.name") is { } map && Node(volume, "configMap.optional")?.ToString() != "true")
                    Assert.True(configMaps.ContainsKey(map.ToString()), $"{file}: ConfigMap {map} is not defined");
            }
            foreach (YamlMappingNode container in (YamlSequenceNode)spec["containers"])
            {
                var where = $"{file} {Name(doc)}/{container["name"]}";
                var env = new Dictionary<string, string>();
                if (container.Children.TryGetValue("envFrom", out var envFrom))
                    foreach (YamlMappingNode source in (YamlSequenceNode)envFrom)
                    {
                        var map = Node(source, "configMapRef.name")!.ToString();
                        Assert.True(configMaps.TryGetValue(map, out var keys), $"{where}: envFrom ConfigMap {map} is not defined");
                        foreach (var key in keys!) env[key] = "value-of-" + key;
                    }
                if (container.Children.TryGetValue("env", out var envList))
                    foreach (YamlMappingNode item in (YamlSequenceNode)envList)
                    {
                        var name = item["name"].ToString();
                        if (name.StartsWith("FLOWPOLICY_", StringComparison.Ordinal)) Assert.Contains(name, KnownVariables);
                        if (Node(item, "valueFrom.secretKeyRef") is YamlMappingNode reference)
                            Assert.True(secrets.TryGetValue(reference["name"].ToString(), out var keys) && keys.Contains(reference["key"].ToString()),
                                $"{where}: {name} reads a missing Secret key {reference["name"]}/{reference["key"]}");
                        env[name] = item.Children.TryGetValue("value", out var value) ? value.ToString() : "secret";
                    }
                var mounts = container.Children.TryGetValue("volumeMounts", out var m)
                    ? ((YamlSequenceNode)m).Cast<YamlMappingNode>().Select(x => (Path: x["mountPath"].ToString(), Volume: x["name"].ToString())).ToList() : [];
                foreach (var mount in mounts) Assert.True(volumes.ContainsKey(mount.Volume), $"{where}: mount of undefined volume {mount.Volume}");

                var args = ((YamlSequenceNode)container["args"]).Select(a => VariableReference().Replace(a.ToString(), x =>
                    env.TryGetValue(x.Groups[1].Value, out var value) ? value : throw new Xunit.Sdk.XunitException($"{where}: $({x.Groups[1].Value}) is not set"))).ToList();
                // Secret files named in arguments (@FILE) and *_FILE variables lie in a mounted Secret.
                var files = args.Select(a => a.Split('=', 2)).Where(p => p.Length == 2 && p[1].StartsWith('@')).Select(p => p[1][1..])
                    .Concat(env.Where(e => e.Key.EndsWith("_FILE", StringComparison.Ordinal)).Select(e => e.Value));
                foreach (var path in files)
                    Assert.True(mounts.Any(x => path.StartsWith(x.Path + "/", StringComparison.Ordinal) && Node(volumes[x.Volume], "secret") is not null),
                        $"{where}: {path} is not inside a mounted Secret");
                foreach (var probe in new[] { "livenessProbe", "readinessProbe" })
                    if (Node(container, probe + ".httpGet.port") is { } port)
                        Assert.Contains(port.ToString(), ((YamlSequenceNode)container["ports"]).Cast<YamlMappingNode>().Select(p => p["name"].ToString()));
                AssertCommandLineParses(where, args);
            }
        }
    }

    [Fact]
    public void Compose_services_reference_existing_services_files_secrets_and_valid_command_lines()
    {
        var compose = Load(Path.Combine(Compose, "docker-compose.yaml"));
        var services = (YamlMappingNode)compose["services"];
        var secrets = Keys(compose, "secrets");
        Assert.Equal(["clickhouse", "grafana", "ingest", "kafka", "migrate", "scheduler"], services.Children.Keys.Select(k => k.ToString()).Order(StringComparer.Ordinal));
        Assert.StartsWith("apache/kafka:", Scalar(Service(services, "kafka"), "image"));
        Assert.StartsWith("clickhouse/clickhouse-server:", Scalar(Service(services, "clickhouse"), "image"));
        Assert.Equal("broker,controller", Node(Service(services, "kafka"), "environment.KAFKA_PROCESS_ROLES")!.ToString()); // KRaft, no ZooKeeper
        foreach (var (nameNode, _) in services)
        {
            var name = nameNode.ToString();
            var service = Service(services, name);
            Assert.True(service.Children.ContainsKey("image") || service.Children.ContainsKey("build"), $"{name}: no image or build");
            if (Node(service, "build.dockerfile") is { } dockerfile)
                Assert.True(File.Exists(Path.Combine(Compose, Node(service, "build.context")!.ToString(), dockerfile.ToString())), $"{name}: {dockerfile} missing");
            if (service.Children.TryGetValue("depends_on", out var dependsOn))
                foreach (var (dependency, _) in (YamlMappingNode)dependsOn)
                    Assert.True(services.Children.ContainsKey(dependency), $"{name} depends on unknown service {dependency}");
            foreach (var secret in service.Children.TryGetValue("secrets", out var s) ? ((YamlSequenceNode)s).Select(x => x.ToString()) : [])
                Assert.Contains(secret, secrets);
            foreach (var variable in service.Children.TryGetValue("environment", out var e) ? ((YamlMappingNode)e).Children.Keys.Select(k => k.ToString()) : [])
                if (variable.StartsWith("FLOWPOLICY_", StringComparison.Ordinal)) Assert.Contains(variable, KnownVariables);
            foreach (var volume in service.Children.TryGetValue("volumes", out var vs) ? ((YamlSequenceNode)vs).Select(x => x.ToString()) : [])
                if (volume.StartsWith('.'))
                    Assert.True(Path.Exists(Path.Combine(Compose, volume.Split(':')[0])), $"{name}: bind mount source {volume} missing");
            if (Scalar(service, "image") == "flowpolicy:local")
                AssertCommandLineParses("compose " + name, ((YamlSequenceNode)service["command"]).Select(a => a.ToString()).ToList());
        }
        // Grafana reads the dashboards where its provider looks for them.
        var provider = Load(Path.Combine(Root, "deploy", "grafana", "provisioning", "dashboards", "flowpolicy.yaml"));
        var providerPath = Node((YamlMappingNode)((YamlSequenceNode)provider["providers"])[0], "options.path")!.ToString();
        Assert.Contains("../grafana/dashboards:" + providerPath + ":ro", ((YamlSequenceNode)Service(services, "grafana")["volumes"]).Select(x => x.ToString()));
    }

    [Fact]
    public void Every_dashboard_query_uses_the_provisioned_ClickHouse_data_source_and_its_variables_are_set_by_compose()
    {
        var provisioning = Load(Path.Combine(Root, "deploy", "grafana", "provisioning", "datasources", "clickhouse.yaml"));
        var source = (YamlMappingNode)((YamlSequenceNode)provisioning["datasources"])[0];
        Assert.Equal("grafana-clickhouse-datasource", Scalar(source, "type"));
        var uid = Scalar(source, "uid");
        var text = File.ReadAllText(Path.Combine(Root, "deploy", "grafana", "provisioning", "datasources", "clickhouse.yaml"));
        var grafanaEnv = ((YamlMappingNode)Service((YamlMappingNode)Load(Path.Combine(Compose, "docker-compose.yaml"))["services"], "grafana")["environment"]).Children.Keys.Select(k => k.ToString()).ToList();
        foreach (Match variable in GrafanaVariable().Matches(text)) Assert.Contains(variable.Groups[1].Value, grafanaEnv);

        var dashboards = Directory.GetFiles(Path.Combine(Root, "deploy", "grafana", "dashboards"), "*.json");
        Assert.Equal(3, dashboards.Length);
        var uids = new HashSet<string>();
        foreach (var file in dashboards)
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(file));
            Assert.True(uids.Add(doc.RootElement.GetProperty("uid").GetString()!), $"{file}: duplicate dashboard uid");
            var panels = doc.RootElement.GetProperty("panels").EnumerateArray().ToList();
            Assert.Equal(panels.Count, panels.Select(p => p.GetProperty("id").GetInt32()).Distinct().Count());
            foreach (var element in panels.SelectMany(p => p.GetProperty("targets").EnumerateArray().Append(p))
                         .Concat(doc.RootElement.GetProperty("templating").GetProperty("list").EnumerateArray()))
                Assert.Equal(uid, element.GetProperty("datasource").GetProperty("uid").GetString());
        }
    }

    [Fact]
    public void Dockerfile_builds_the_cli_on_the_sdk_and_runs_it_on_aspnet_with_the_bundled_librdkafka()
    {
        var text = File.ReadAllText(Path.Combine(Compose, "Dockerfile"));
        Assert.Contains("FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build", text);
        Assert.Contains("FROM mcr.microsoft.com/dotnet/aspnet:10.0", text);
        // librdkafka ships in the published program (librdkafka.redist); a distribution copy would be a second one.
        Assert.DoesNotContain("librdkafka1", text);
        foreach (Match copy in DockerCopy().Matches(text))
            Assert.True(Path.Exists(Path.Combine(Root, copy.Groups[1].Value)), $"COPY source {copy.Groups[1].Value} does not exist");
        Assert.Contains("<AssemblyName>flowpolicy</AssemblyName>", File.ReadAllText(Path.Combine(Root, "cli", "FlowPolicy.Cli.csproj")));
        Assert.Contains("\"/app/flowpolicy.dll\"", text);
    }

    [Fact]
    public void The_scheduler_configs_of_compose_and_kubernetes_parse_with_the_real_serve_config()
    {
        var compose = ServeConfig.Load(Path.Combine(Root, "deploy", "compose", "flowpolicy", "flowpolicy.yaml"));
        var configMap = Load(Path.Combine(Root, "deploy", "kubernetes", "configmap.yaml"));
        var kubernetes = ServeConfig.Parse(Scalar((YamlMappingNode)configMap.Children[new YamlScalarNode("data")], "flowpolicy.yaml")!, "configmap.yaml");
        foreach (var config in new[] { compose, kubernetes })
        {
            config.Validate();
            // Ingest runs in its own service; probes and Grafana expect the scheduler on 0.0.0.0:8080.
            Assert.False(config.IngestEnabled);
            Assert.Equal(("0.0.0.0", 8080), (config.HttpListen, config.HttpPort));
            Assert.Equal("/etc/flowpolicy/policies", config.Intent);
            Assert.Equal(JobKinds.All.Order(), config.Jobs.Select(j => j.Name).Order());
        }
        Assert.True(Directory.Exists(Path.Combine(Root, "deploy", "compose", "flowpolicy", "policies")));
    }

    /// <summary>Parses a flowpolicy command line with the real command tree.</summary>
    private static void AssertCommandLineParses(string where, IReadOnlyList<string> args)
    {
        var root = FlowPolicyCommand.Create();
        var parsed = root.Parse(args.ToArray());
        Assert.True(parsed.Errors.Count == 0, $"{where}: flowpolicy {string.Join(' ', args)}: {string.Join("; ", parsed.Errors.Select(e => e.Message))}");
        Assert.NotEqual(root, parsed.CommandResult.Command);
    }

    private static YamlMappingNode Load(string path)
    {
        var stream = new YamlStream();
        using (var reader = new StringReader(File.ReadAllText(path))) stream.Load(reader);
        return (YamlMappingNode)stream.Documents[0].RootNode;
    }

    /// <summary>A compose service with YAML merge keys (&lt;&lt;: *anchor) applied; YamlDotNet's node model leaves them as keys.</summary>
    private static YamlMappingNode Service(YamlMappingNode services, string name)
    {
        var service = (YamlMappingNode)services[name];
        var merged = new YamlMappingNode();
        if (service.Children.TryGetValue("<<", out var baseNode))
            foreach (var (k, v) in (YamlMappingNode)baseNode) merged.Add(k, v);
        foreach (var (k, v) in service.Children.Where(c => c.Key.ToString() != "<<"))
        {
            merged.Children.Remove(k);
            merged.Add(k, v);
        }
        return merged;
    }

    private static YamlNode? Node(YamlMappingNode node, string path)
    {
        YamlNode current = node;
        foreach (var part in path.Split('.'))
        {
            if (current is not YamlMappingNode map || !map.Children.TryGetValue(part, out var next)) return null;
            current = next;
        }
        return current;
    }

    private static string? Scalar(YamlMappingNode node, string key) => node.Children.TryGetValue(key, out var value) ? value.ToString() : null;
    private static string Kind(YamlMappingNode doc) => Scalar(doc, "kind")!;
    private static string Name(YamlMappingNode doc) => Node(doc, "metadata.name")?.ToString() ?? "";
    private static HashSet<string> Keys(YamlMappingNode doc, string key) =>
        Node(doc, key) is YamlMappingNode map ? map.Children.Keys.Select(k => k.ToString()).ToHashSet() : [];

    [GeneratedRegex(@"\$\(([A-Z_][A-Z0-9_]*)\)")]
    private static partial Regex VariableReference();

    [GeneratedRegex(@"\$\{([A-Z_][A-Z0-9_]*)\}")]
    private static partial Regex GrafanaVariable();

    [GeneratedRegex(@"^COPY (?!--from)(\S+)", RegexOptions.Multiline)]
    private static partial Regex DockerCopy();
}

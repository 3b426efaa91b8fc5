using FlowPolicy.Analytics.Intent;

namespace FlowPolicy.Tests.Intent;

public sealed class PolicyLoaderTests : IDisposable
{
    private readonly PolicyFiles _files = new();

    public void Dispose() => _files.Dispose();

    private const string Deny = """
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata: {name: deny, namespace: shop}
        spec:
          podSelector: {}
        """;

    [Fact]
    public void Reads_directories_recursively_with_multi_document_yaml_lists_and_json()
    {
        _files.Write("a.yaml", Deny + "\n---\n" + Deny.Replace("name: deny", "name: deny-2"));
        _files.Write("sub/dir/b.yml", """
            apiVersion: v1
            kind: List
            items:
              - apiVersion: networking.k8s.io/v1
                kind: NetworkPolicy
                metadata: {name: from-list, namespace: shop}
                spec: {podSelector: {}}
            """);
        _files.Write("sub/c.json", """
            {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
             "metadata": {"name": "from-json", "namespace": "shop"}, "spec": {"podSelector": {}, "ingress": [{}]}}
            """);
        _files.Write("fp.yaml", "apiVersion: flowpolicy.dev/v1\nkind: FlowPolicy\nmetadata: {name: x}\nspec: {}\n");
        _files.Write("README.md", "not read");
        _files.Write(".git/config.json", "{ broken");
        var set = _files.Load();
        Assert.Equal(4, set.Files);
        Assert.Equal(4, set.NetworkPolicyCount);
        Assert.Equal(1, set.FlowPolicyCount);
        Assert.Empty(set.Notes);
    }

    [Fact]
    public void Objects_that_are_not_policies_are_skipped_with_a_note_naming_file_and_line()
    {
        var path = _files.Write("mixed.yaml", Deny + """

            ---
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: cart}
            """);
        var set = _files.Load();
        Assert.Equal(1, set.NetworkPolicyCount);
        Assert.Equal($"{path}:7: skipped Deployment cart (not a policy)", Assert.Single(set.Notes));
    }

    [Fact]
    public void Broken_yaml_is_an_error_naming_the_file_and_line()
    {
        var path = _files.Write("broken.yaml", "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: [unclosed\n  namespace: shop\n");
        var error = Assert.Throws<PolicyLoadException>(() => _files.Load());
        Assert.Equal(path, error.File);
        Assert.InRange(error.Line, 4, 6);
        Assert.StartsWith($"{path}:{error.Line}: not valid YAML", error.Message);
    }

    [Fact]
    public void Broken_json_is_an_error_naming_the_file_and_line()
    {
        var path = _files.Write("broken.json", "{\n  \"kind\": \"NetworkPolicy\",\n  \"spec\": {\n}\n");
        var error = Assert.Throws<PolicyLoadException>(() => _files.Load());
        Assert.Equal(path, error.File);
        Assert.True(error.Line >= 4, error.Message);
    }

    [Theory]
    [InlineData("    - from: [{ipBlock: {cidr: 10.0.0.300/8}}]", "is not a CIDR")]
    [InlineData("    - from: [{podSelector: {matchExpressions: [{key: a, operator: Has}]}}]", "unknown operator 'Has'")]
    [InlineData("    - from: [{ipBlock: {cidr: 10.0.0.0/8}, podSelector: {}}]", "cannot be combined")]
    [InlineData("    - ports: [{protocol: ICMP}]", "TCP, UDP or SCTP")]
    [InlineData("    - ports: [{port: 100, endPort: 50}]", "below port")]
    [InlineData("    - ports: [{port: http, endPort: 90}]", "named ports cannot be ranges")]
    public void Invalid_network_policies_are_errors_with_the_line_of_the_problem(string rule, string problem)
    {
        var path = _files.Write("p.yaml", "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p, namespace: s}\nspec:\n  podSelector: {}\n  ingress:\n" + rule + "\n");
        var error = Assert.Throws<PolicyLoadException>(() => _files.Load());
        Assert.Contains(problem, error.Message);
        Assert.Equal(7, error.Line);
        Assert.Equal(path, error.File);
    }

    [Theory]
    [InlineData("  defaultAction: maybe", "must be deny or allow")]
    [InlineData("  rules: [{name: r, from: {namespace: a, nmespace: b}}]", "unknown field 'nmespace'")]
    [InlineData("  rules: [{name: r, from: {cidr: 10.0.0.0/8, namespace: a}}]", "cannot be combined")]
    [InlineData("  rules: [{name: r}, {name: r}]", "used twice")]
    [InlineData("  rules: [{name: r, ports: [http]}]", "unknown protocol 'http'")]
    [InlineData("  rules: [{name: r, to: frontend}]", "is not an endpoint")]
    [InlineData("  appliesTo: []", "match nothing")]
    public void Invalid_flow_policies_are_errors_that_say_what_to_fix(string specLine, string problem)
    {
        _files.Write("p.yaml", "apiVersion: flowpolicy.dev/v1\nkind: FlowPolicy\nmetadata: {name: p}\nspec:\n" + specLine + "\n");
        var error = Assert.Throws<PolicyLoadException>(() => _files.Load());
        Assert.Contains(problem, error.Message);
        Assert.Equal(5, error.Line);
    }

    [Fact]
    public void Unsupported_api_versions_of_policy_kinds_are_errors_not_silent_skips()
    {
        _files.Write("p.yaml", "apiVersion: extensions/v1beta1\nkind: NetworkPolicy\nmetadata: {name: p}\nspec: {podSelector: {}}\n");
        Assert.Contains("networking.k8s.io/v1", Assert.Throws<PolicyLoadException>(() => _files.Load()).Message);
    }

    [Fact]
    public void A_network_policy_defined_twice_is_an_error()
    {
        _files.Write("a.yaml", Deny);
        _files.Write("b.yaml", Deny);
        Assert.Contains("shop/deny is defined twice", Assert.Throws<PolicyLoadException>(() => _files.Load()).Message);
    }

    [Fact]
    public void Missing_pod_selector_is_an_error()
    {
        _files.Write("a.yaml", "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p}\nspec:\n  ingress: [{}]\n");
        Assert.Contains("podSelector is required", Assert.Throws<PolicyLoadException>(() => _files.Load()).Message);
    }

    [Fact]
    public void Namespace_objects_in_the_policy_directory_give_namespace_labels()
    {
        _files.Write("ns.yaml", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: monitoring\n  labels: {team: obs}\n");
        var set = _files.Load();
        Assert.Equal("obs", Assert.Single(set.NamespaceLabels["monitoring"]).Value);
        Assert.Empty(set.Notes);
    }

    [Fact]
    public void A_missing_path_is_reported()
    {
        Assert.Throws<FileNotFoundException>(() => new IntentPolicyLoader().Load(Path.Combine(_files.Directory, "nope")));
    }

    [Theory]
    [InlineData("spec:\n  podSelector: {}\n  ingres:\n  - from: [{podSelector: {}}]\n", 6, "unknown field 'ingres' in spec")]
    [InlineData("spec:\n  podSelector: {}\n  ingress:\n  - form: [{podSelector: {}}]\n", 7, "unknown field 'form' in ingress[0]")]
    [InlineData("spec:\n  podSelector: {matchLabel: {app: x}}\n", 5, "unknown field 'matchLabel' in a label selector")]
    [InlineData("spec:\n  podSelector: {}\n  egress:\n  - to: [{podSelector: {}, namespaceSelectors: {}}]\n", 7, "unknown field 'namespaceSelectors'")]
    [InlineData("spec:\n  podSelector: {}\n  egress:\n  - ports: [{prot: UDP, port: 53}]\n", 7, "unknown field 'prot' in a ports item")]
    [InlineData("spec:\n  podSelector: {}\n  egress:\n  - to: [{ipBlock: {cidr: 10.0.0.0/8, exept: [10.1.0.0/16]}}]\n", 7, "unknown field 'exept' in ipBlock")]
    [InlineData("spec:\n  podSelector: {}\nspce: {}\n", 6, "unknown field 'spce' in a NetworkPolicy")]
    public void An_unknown_field_in_a_network_policy_is_an_error_naming_file_line_and_field(string body, int line, string problem)
    {
        var path = _files.Write("p.yaml", "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p, namespace: s}\n" + body);
        var error = Assert.Throws<PolicyLoadException>(() => _files.Load());
        Assert.Equal(path, error.File);
        Assert.Equal(line, error.Line);
        Assert.Contains(problem, error.Message);
        Assert.StartsWith($"{path}:{line}: ", error.Message);
    }

    [Fact]
    public void An_unknown_field_in_json_names_the_line_of_the_key()
    {
        var path = _files.Write("p.json", "{\n  \"apiVersion\": \"networking.k8s.io/v1\",\n  \"kind\": \"NetworkPolicy\",\n  \"metadata\": {\"name\": \"p\", \"namespce\": \"s\"},\n  \"spec\": {\"podSelector\": {}}\n}\n");
        var error = Assert.Throws<PolicyLoadException>(() => _files.Load());
        Assert.Equal(4, error.Line);
        Assert.Contains("unknown field 'namespce' in metadata", error.Message);
    }

    [Fact]
    public void Kubectl_output_with_every_metadata_field_and_status_still_loads()
    {
        _files.Write("got.yaml", """
            apiVersion: networking.k8s.io/v1
            kind: NetworkPolicy
            metadata:
              name: p
              namespace: s
              uid: 0b5d
              resourceVersion: "42"
              generation: 1
              creationTimestamp: "2026-11-02T00:00:00Z"
              annotations: {kubectl.kubernetes.io/last-applied-configuration: "{}"}
              managedFields: [{manager: kubectl}]
            spec:
              podSelector: {}
              policyTypes: [Ingress]
            status: {}
            """);
        Assert.Equal(1, _files.Load().NetworkPolicyCount);
    }

    [Fact]
    public void An_unknown_field_in_a_flow_policy_is_an_error()
    {
        _files.Write("p.yaml", "apiVersion: flowpolicy.dev/v1\nkind: FlowPolicy\nmetadata: {name: p, labels: {}}\nspec:\n  rules: [{name: r, ports: [{port: 53, protocl: UDP}]}]\n");
        var error = Assert.Throws<PolicyLoadException>(() => _files.Load());
        Assert.Contains("unknown field 'protocl' in a ports item", error.Message);
        Assert.Equal(5, error.Line);
    }

    [Fact]
    public void Calico_objects_beside_the_policies_are_skipped_and_cilium_ones_evaluated_and_istio_ones_read_for_their_l7_rules_with_a_note()
    {
        _files.Write("k8s/shop/deny.yaml", Deny);
        var calico = _files.Write("calico/shop/deny.yaml", "apiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata: {name: deny, namespace: shop}\nspec: {selector: all(), types: [Ingress]}\n");
        _files.Write("calico/staged/shop/deny.yaml", "apiVersion: projectcalico.org/v3\nkind: StagedNetworkPolicy\nmetadata: {name: deny, namespace: shop}\nspec: {selector: all()}\n");
        _files.Write("calico/global.yaml", "apiVersion: crd.projectcalico.org/v1\nkind: GlobalNetworkPolicy\nmetadata: {name: g}\nspec: {}\n");
        var cilium = _files.Write("cilium/shop/deny.yaml", "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: deny, namespace: shop}\nspec: {endpointSelector: {}}\n");
        _files.Write("cilium/old.yaml", "apiVersion: cilium.io/v1alpha1\nkind: CiliumNodeConfig\nmetadata: {name: c, namespace: shop}\nspec: {}\n");
        _files.Write("istio/shop/deny.yaml", "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: allow-nothing, namespace: shop}\nspec: {}\n");
        var set = _files.Load();
        Assert.Equal(1, set.NetworkPolicyCount);
        Assert.Equal(1, set.CiliumPolicyCount);
        Assert.Equal(1, set.IstioPolicyCount);
        Assert.Equal(6, set.Notes.Count);
        Assert.Contains($"{calico}:1: skipped Calico NetworkPolicy deny (projectcalico.org/v3): only Kubernetes NetworkPolicy, FlowPolicy, Cilium policies and Istio AuthorizationPolicies are evaluated", set.Notes);
        Assert.Contains($"{cilium}:1: CiliumNetworkPolicy shop/deny: its L3/L4 rules are evaluated with the NetworkPolicies as one policy repository, as Cilium does " +
            "(isolated if any selects, allows add up, deny rules win); its L7 rules and toFQDNs names also against L7 history", set.Notes);
        Assert.Contains(set.Notes, n => n.Contains("skipped Cilium CiliumNodeConfig c", StringComparison.Ordinal));
        Assert.Contains(set.Notes, n => n.Contains("AuthorizationPolicy shop/allow-nothing: its sources and ports are evaluated at the server's sidecar", StringComparison.Ordinal));
        Assert.Contains(set.Notes, n => n.Contains("skipped Calico GlobalNetworkPolicy g", StringComparison.Ordinal));
    }
}

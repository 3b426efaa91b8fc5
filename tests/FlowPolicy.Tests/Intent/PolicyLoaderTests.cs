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
}

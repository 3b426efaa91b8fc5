namespace FlowPolicy.Analytics.Intent;

/// <summary>
/// The two mesh-wide Istio settings an AuthorizationPolicy's meaning depends on: the root namespace (meshConfig.rootNamespace:
/// a policy there applies to workloads of every namespace) and the trust domain (meshConfig.trustDomain: principals are
/// <c>TRUST_DOMAIN/ns/NAMESPACE/sa/SERVICEACCOUNT</c>). Istio's defaults are istio-system and cluster.local; a mesh with
/// another trust domain matches no principal written with cluster.local, so evaluating or emitting with the wrong one
/// judges every workload client as denied (and the emitted ALLOW policies would deny them on the cluster).
/// </summary>
public sealed record IstioMesh(string RootNamespace, string TrustDomain)
{
    public static readonly IstioMesh Default = new("istio-system", "cluster.local");

    /// <summary>The mesh from user input: a Kubernetes namespace name and a SPIFFE trust domain (no '/', no spaces).</summary>
    public static IstioMesh Parse(string? rootNamespace, string? trustDomain)
    {
        var mesh = new IstioMesh(string.IsNullOrEmpty(rootNamespace) ? Default.RootNamespace : rootNamespace,
            string.IsNullOrEmpty(trustDomain) ? Default.TrustDomain : trustDomain);
        mesh.Validate();
        return mesh;
    }

    public void Validate()
    {
        if (RootNamespace.Length > 63 || !RootNamespace.All(c => c is (>= 'a' and <= 'z') or (>= '0' and <= '9') or '-') || RootNamespace[0] == '-' || RootNamespace[^1] == '-')
            throw new ArgumentException($"the Istio root namespace '{RootNamespace}' is not a namespace name (lowercase letters, digits and '-', at most 63)");
        if (TrustDomain.Length > 255 || !TrustDomain.All(c => c is (>= 'a' and <= 'z') or (>= 'A' and <= 'Z') or (>= '0' and <= '9') or '.' or '-' or '_'))
            throw new ArgumentException($"the Istio trust domain '{TrustDomain}' is not a trust domain (letters, digits, '.', '-' and '_')");
    }
}

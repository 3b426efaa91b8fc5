namespace FlowPolicy.Core.Flows;

/// <summary>
/// The values <see cref="WorkloadIdentity.WorkloadKind"/> takes for pods: the Kubernetes kind of the controller that
/// owns the pod, or <see cref="BarePod"/> when none does. One spelling for every reader and for suggest's noise
/// classifier, which recognises a bare pod by <see cref="BarePod"/> alone.
/// </summary>
public static class WorkloadKinds
{
    public const string Deployment = "Deployment";
    public const string ReplicaSet = "ReplicaSet";
    public const string StatefulSet = "StatefulSet";
    public const string DaemonSet = "DaemonSet";
    public const string Job = "Job";
    public const string CronJob = "CronJob";
    /// <summary>A static (mirror) pod the kubelet runs from a manifest on the node: owned by the Node, one per node.</summary>
    public const string StaticPod = "StaticPod";
    /// <summary>
    /// A pod no controller owns (<c>kubectl run</c>, a debug pod, a pod applied from a bare manifest): its workload is
    /// its own name, and it does not come back when it ends.
    /// </summary>
    public const string BarePod = "Pod";
}

using FlowPolicy.Core.Edges;

namespace FlowPolicy.Analytics.Baseline;

/// <summary>
/// What an endpoint's controller says about how long it lives. The one place that reads the workload kind for that:
/// readers that learn more about bare pods (Hubble records without a workload) only need to change these functions.
/// </summary>
public static class ControllerKinds
{
    /// <summary>A pod no controller owns (<c>kubectl run</c>, a debug shell): WorkloadKind "Pod".</summary>
    public static bool IsBarePod(Endpoint endpoint) => endpoint.Kind == Core.Flows.EndpointKind.Pod && endpoint.WorkloadKind == "Pod";

    /// <summary>Pods a CronJob or Job controller starts: they run on a schedule (or once), so a rare edge is their nature.</summary>
    public static bool IsScheduledJob(Endpoint endpoint) => endpoint.Kind == Core.Flows.EndpointKind.Pod && endpoint.WorkloadKind is "CronJob" or "Job";
}

namespace FlowPolicy.Core.Flows;

/// <summary>The workload a pod belongs to: its controller's name and kind, or the pod itself when it is bare.</summary>
/// <param name="Workload">The controller's name (a Deployment's, not its ReplicaSet's), or the pod name of a bare pod.</param>
/// <param name="Kind">A <see cref="WorkloadKinds"/> value; null for "some controller", when the name shows one but not its kind.</param>
public readonly record struct PodOwner(string Workload, string? Kind)
{
    public bool IsBare => Kind == WorkloadKinds.BarePod;
}

/// <summary>
/// Finds a pod's controller from what a record carries when the source did not name it: Cilium leaves Hubble's
/// <c>workloads</c> empty for records another node's agent wrote and for L7 records, and a lease may carry only a pod
/// name. Labels Kubernetes controllers stamp on their pods come first, then the names they generate; a pod is called
/// bare only when nothing shows a controller. Conservative on purpose: a name pattern alone is trusted only where
/// a person is unlikely to write it (a ReplicaSet's hash), otherwise an app label must agree. Rules: docs/enrichment.md,
/// "Pods without a controller".
/// </summary>
public static class PodOwnerInference
{
    // k8s.io/apimachinery/pkg/util/rand: generated name suffixes (5 characters) come from this alphabet (no vowels,
    // no 0, 1, 3), and SafeEncodeString maps the decimal digits of a pod-template-hash to its ten characters 4-9, b-f.
    private const string GeneratedAlphabet = "bcdfghjklmnpqrstvwxz2456789";
    private const string TemplateHashAlphabet = "456789bcdf";

    // Labels whose value usually names the application; an ordinal or a single generated suffix on a pod name is
    // trusted only when one of them agrees with the rest of the name.
    private static readonly string[] AppLabelKeys =
    [
        "app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/component", "app", "k8s-app", "name", "component",
    ];

    /// <summary>The owner of <paramref name="podName"/> as its labels (all of them, per-instance ones included) and name show.</summary>
    public static PodOwner Infer(string podName, IReadOnlyList<KeyValuePair<string, string>> labels)
    {
        string? jobName = null, statefulSetPod = null, podIndex = null, templateHash = null, kubectlRun = null;
        bool revisionHash = false, templateGeneration = false;
        foreach (var (key, value) in labels)
        {
            switch (key)
            {
                case "batch.kubernetes.io/job-name": jobName = value; break;
                case "job-name": jobName ??= value; break;
                case "statefulset.kubernetes.io/pod-name": statefulSetPod = value; break;
                case "apps.kubernetes.io/pod-index": podIndex = value; break;
                case "pod-template-hash": templateHash = value; break;
                case "controller-revision-hash": revisionHash = true; break;
                case "pod-template-generation": templateGeneration = true; break;
                case "run": kubectlRun = value; break;
            }
        }

        // 1. Labels controllers stamp on every pod they create.
        if (!string.IsNullOrEmpty(jobName)) return OfJob(jobName);
        if (statefulSetPod == podName && Ordinal(podName, out int dash)) return new(podName[..dash], WorkloadKinds.StatefulSet);
        if (podIndex is { Length: > 0 } && podName.EndsWith("-" + podIndex, StringComparison.Ordinal) && Ordinal(podName, out dash))
            return new(podName[..dash], WorkloadKinds.StatefulSet);
        if (templateHash is { Length: > 0 })
        {
            int at = podName.IndexOf("-" + templateHash + "-", StringComparison.Ordinal);
            if (at > 0) return new(podName[..at], WorkloadKinds.Deployment);
        }
        if (revisionHash)
        {
            // StatefulSets and DaemonSets both stamp controller-revision-hash; only DaemonSets pod-template-generation.
            if (templateGeneration && GeneratedSuffix(podName, out dash)) return new(podName[..dash], WorkloadKinds.DaemonSet);
            if (!templateGeneration && Ordinal(podName, out dash)) return new(podName[..dash], WorkloadKinds.StatefulSet);
        }
        // `kubectl run NAME` labels its pod run=NAME and nothing else owns it.
        if (kubectlRun == podName) return new(podName, WorkloadKinds.BarePod);

        // 2. Names controllers generate. ReplicaSet pods: <deployment>-<template hash>-<5 generated>; the hash alphabet
        // and the two fixed-length parts are not something people type.
        if (GeneratedSuffix(podName, out dash))
        {
            var rest = podName.AsSpan(0, dash);
            int hashDash = rest.LastIndexOf('-');
            if (hashDash > 0)
            {
                var middle = rest[(hashDash + 1)..];
                if (middle.Length is >= 6 and <= 10 && !middle.ContainsAnyExcept(TemplateHashAlphabet))
                    return new(podName[..hashDash], WorkloadKinds.Deployment);
                // A CronJob's Job is <cronjob>-<scheduled minute since the epoch>, its pod that plus 5 generated.
                if (middle.Length >= 8 && !middle.ContainsAnyExceptInRange('0', '9'))
                    return new(podName[..hashDash], WorkloadKinds.CronJob);
            }
            // <name>-<5 generated>: a DaemonSet's or a Job's pod, or a bare pod made with generateName: an app label must agree.
            if (AppLabelAgrees(podName.AsSpan(0, dash), labels)) return new(podName[..dash], null);
        }
        // <name>-<ordinal>: a StatefulSet's pod, or a pod someone called "test-1": an app label must agree.
        if (Ordinal(podName, out dash) && AppLabelAgrees(podName.AsSpan(0, dash), labels))
            return new(podName[..dash], WorkloadKinds.StatefulSet);

        return new(podName, WorkloadKinds.BarePod);
    }

    /// <summary>A Job's owner: the CronJob when the Job's name carries a scheduled time (8+ digits), else the Job.</summary>
    public static PodOwner OfJob(string jobName)
    {
        int dash = jobName.LastIndexOf('-');
        if (dash > 0 && jobName.Length - dash - 1 >= 8 && !jobName.AsSpan(dash + 1).ContainsAnyExceptInRange('0', '9'))
            return new(jobName[..dash], WorkloadKinds.CronJob);
        return new(jobName, WorkloadKinds.Job);
    }

    /// <summary>A ReplicaSet's owner: the Deployment when its name ends in the pods' template hash, else the ReplicaSet.</summary>
    public static PodOwner OfReplicaSet(string replicaSetName, string? templateHash)
    {
        if (templateHash is { Length: > 0 } && replicaSetName.Length > templateHash.Length + 1
            && replicaSetName.EndsWith(templateHash, StringComparison.Ordinal) && replicaSetName[^(templateHash.Length + 1)] == '-')
            return new(replicaSetName[..^(templateHash.Length + 1)], WorkloadKinds.Deployment);
        int dash = replicaSetName.LastIndexOf('-');
        if (dash > 0 && replicaSetName.Length - dash - 1 is >= 6 and <= 10 && !replicaSetName.AsSpan(dash + 1).ContainsAnyExcept(TemplateHashAlphabet))
            return new(replicaSetName[..dash], WorkloadKinds.Deployment);
        return new(replicaSetName, WorkloadKinds.ReplicaSet);
    }

    /// <summary>"name-N" with N a StatefulSet ordinal (digits, no leading zero); <paramref name="dash"/> is the last dash.</summary>
    private static bool Ordinal(string podName, out int dash)
    {
        dash = podName.LastIndexOf('-');
        if (dash <= 0 || dash == podName.Length - 1) return false;
        var digits = podName.AsSpan(dash + 1);
        if (digits.Length > 6 || digits.ContainsAnyExceptInRange('0', '9')) return false;
        return digits.Length == 1 || digits[0] != '0';
    }

    /// <summary>"name-xxxxx" with five characters of the generated-name alphabet; <paramref name="dash"/> is the last dash.</summary>
    private static bool GeneratedSuffix(string podName, out int dash)
    {
        dash = podName.LastIndexOf('-');
        return dash > 0 && podName.Length - dash - 1 == 5 && !podName.AsSpan(dash + 1).ContainsAnyExcept(GeneratedAlphabet);
    }

    /// <summary>An app label's value is the name, or its first or last dash-separated part ("shop-redis": app=redis).</summary>
    private static bool AppLabelAgrees(ReadOnlySpan<char> name, IReadOnlyList<KeyValuePair<string, string>> labels)
    {
        foreach (var (key, value) in labels)
        {
            if (value.Length == 0 || Array.IndexOf(AppLabelKeys, key) < 0) continue;
            if (name.SequenceEqual(value)) return true;
            if (name.Length > value.Length + 1)
            {
                if (name.StartsWith(value, StringComparison.Ordinal) && name[value.Length] == '-') return true;
                if (name.EndsWith(value, StringComparison.Ordinal) && name[^(value.Length + 1)] == '-') return true;
            }
        }
        return false;
    }
}

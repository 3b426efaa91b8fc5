using System.Globalization;
using System.Text;
using FlowPolicy.Suggest.Inference;

namespace FlowPolicy.Suggest.Emitters;

/// <summary>
/// Kubernetes' rules for object names, namespaces and labels (k8s.io/apimachinery/pkg/util/validation), which every
/// format's API server applies: a document that breaks one is rejected, and a selector built from a label no pod can
/// carry selects nothing.
/// </summary>
internal static class KubernetesNames
{
    /// <summary>DNS-1123 label: [a-z0-9]([-a-z0-9]*[a-z0-9])?, at most 63 characters (namespaces, Calico policy names).</summary>
    public static bool IsDns1123Label(string? value)
    {
        if (string.IsNullOrEmpty(value) || value.Length > 63) return false;
        if (!IsLowerAlnum(value[0]) || !IsLowerAlnum(value[^1])) return false;
        foreach (char c in value)
            if (!IsLowerAlnum(c) && c != '-') return false;
        return true;
    }

    /// <summary>DNS-1123 subdomain: labels joined by '.', at most 253 characters (object names, label key prefixes).</summary>
    public static bool IsDns1123Subdomain(string? value)
    {
        if (string.IsNullOrEmpty(value) || value.Length > 253) return false;
        foreach (var part in value.Split('.'))
            if (!IsDns1123LabelUnbounded(part)) return false;
        return true;
    }

    /// <summary>A label key: an optional DNS-1123 subdomain prefix and '/', then a name of at most 63 characters.</summary>
    public static bool IsLabelKey(string? key)
    {
        if (string.IsNullOrEmpty(key)) return false;
        int slash = key.IndexOf('/');
        string name = key;
        if (slash >= 0)
        {
            if (!IsDns1123Subdomain(key[..slash])) return false;
            name = key[(slash + 1)..];
        }
        return name.Length is > 0 and <= 63 && IsQualifiedPart(name);
    }

    /// <summary>A label value: empty, or at most 63 characters of [A-Za-z0-9_.-] starting and ending alphanumeric.</summary>
    public static bool IsLabelValue(string? value) =>
        value is not null && (value.Length == 0 || (value.Length <= 63 && IsQualifiedPart(value)));

    private static bool IsQualifiedPart(string text)
    {
        if (!char.IsAsciiLetterOrDigit(text[0]) || !char.IsAsciiLetterOrDigit(text[^1])) return false;
        foreach (char c in text)
            if (!char.IsAsciiLetterOrDigit(c) && c is not ('-' or '_' or '.')) return false;
        return true;
    }

    private static bool IsDns1123LabelUnbounded(string value)
    {
        if (value.Length == 0 || value.Length > 63 || !IsLowerAlnum(value[0]) || !IsLowerAlnum(value[^1])) return false;
        foreach (char c in value)
            if (!IsLowerAlnum(c) && c != '-') return false;
        return true;
    }

    private static bool IsLowerAlnum(char c) => c is >= 'a' and <= 'z' or >= '0' and <= '9';
}

/// <summary>
/// The labels a policy can select a workload by: its selector without pairs Kubernetes would never let a pod carry
/// (such a pair came from an inventory or canonical JSON as it was; put in a selector it would either be rejected or
/// select nothing). Null when nothing selectable is left: the workload cannot be named in any policy.
/// </summary>
internal static class SelectableLabels
{
    public static IReadOnlyList<KeyValuePair<string, string>>? Of(Peer workload, List<string>? notes)
    {
        List<KeyValuePair<string, string>>? kept = null;
        var selector = workload.Selector;
        for (int i = 0; i < selector.Count; i++)
        {
            var (key, value) = selector[i];
            bool valid = KubernetesNames.IsLabelKey(key) && KubernetesNames.IsLabelValue(value);
            if (valid)
            {
                kept?.Add(selector[i]);
                continue;
            }
            if (kept is null)
            {
                kept = new List<KeyValuePair<string, string>>(selector.Count);
                for (int j = 0; j < i; j++) kept.Add(selector[j]);
            }
            notes?.Add($"{workload.Key}: label {Quote(key)}={Quote(value)} is not a valid Kubernetes label (no pod can carry it); left out of its selectors.");
        }
        var result = kept ?? selector;
        return result.Count == 0 ? null : result;
    }

    /// <summary>
    /// The selector of the workload a policy is written for, or null when it has no selectable label: then no policy is
    /// written for it, which the notes say, naming what still covers it (<paramref name="stillApplies"/>).
    /// </summary>
    public static IReadOnlyList<KeyValuePair<string, string>>? OfPolicyWorkload(Peer workload, List<string> notes, string stillApplies = "the namespace default deny")
    {
        var selector = Of(workload, notes);
        if (selector is null)
            notes.Add($"{workload.Key}: no valid label to select it by; no policy is written for it ({stillApplies} applies to it).");
        return selector;
    }

    private static string Quote(string text) => "'" + text.Replace("\n", "\\n", StringComparison.Ordinal) + "'";
}

/// <summary>
/// Object names of one namespace's policies, unique per kind and namespace by construction:
/// <list type="bullet">
/// <item>a workload's stem is its name made a DNS-1123 label (lowercase, runs of other characters become one '-'),
/// so a stem never contains "--";</item>
/// <item>workloads whose stems would collide (<c>Web_App</c> and <c>web-app</c>, a Deployment and a StatefulSet
/// named alike), whose name had to change to become valid, or whose name is too long get <c>STEM--HASH</c>, eight hex
/// digits of their key;</item>
/// <item>namespace-wide policies (the default deny) are named <c>flowpolicy--…</c>, which no workload can produce:
/// a stem has no "--", and a hash is hex digits;</item>
/// <item>a policy split over several documents adds <c>--2</c>, <c>--3</c> ... (not eight hex digits).</item>
/// </list>
/// Every name is at most 63 characters: Calico policy names are DNS-1123 labels, and the others share the scheme.
/// </summary>
internal sealed class PolicyNames
{
    public const string DefaultDeny = "flowpolicy--default-deny";
    /// <summary>Istio's namespace-wide ALLOW-less policy.</summary>
    public const string AllowNothing = "flowpolicy--allow-nothing";
    /// <summary>The Istio ServiceEntry of the external hosts a namespace reaches by name (--l7); a kind of its own, so it never collides with a policy.</summary>
    public const string ExternalHosts = "flowpolicy--external-hosts";
    private const int MaxLength = 63;
    /// <summary>Room for the longest suffix a format adds to a stem ("-ingress--99").</summary>
    private const int SuffixRoom = 14;

    private readonly Dictionary<string, string> _stems = new(StringComparer.Ordinal);

    public PolicyNames(IEnumerable<Peer> workloads)
    {
        var list = workloads.ToList();
        var byStem = list.GroupBy(w => Sanitise(w.Workload ?? w.Key), StringComparer.Ordinal);
        var used = new HashSet<string>(StringComparer.Ordinal);
        foreach (var group in byStem)
        {
            bool shared = group.Select(w => w.Key).Distinct(StringComparer.Ordinal).Count() > 1;
            foreach (var workload in group)
            {
                if (_stems.ContainsKey(workload.Key)) continue;
                string stem = group.Key;
                bool exact = stem == workload.Workload;
                if (shared || !exact || stem.Length > MaxLength - SuffixRoom)
                    stem = Hashed(stem, workload.Key + "\n" + workload.WorkloadKind, 8);
                // A 32-bit hash can still collide among thousands of similar names: widen it then.
                if (!used.Add(stem)) used.Add(stem = Hashed(group.Key, workload.Key + "\n" + workload.WorkloadKind, 16));
                _stems[workload.Key] = stem;
            }
        }
    }

    /// <summary>The stem of a workload's policies (its name when that is a valid, unique DNS-1123 label).</summary>
    public string Stem(Peer workload) => _stems[workload.Key];

    /// <summary>The name of part <paramref name="part"/> (0-based) of a policy named <paramref name="name"/>.</summary>
    public static string Part(string name, int part) =>
        part == 0 ? name : name + "--" + (part + 1).ToString(CultureInfo.InvariantCulture);

    /// <summary>Lowercase letters, digits and single '-' between them; "unnamed" when nothing is left.</summary>
    public static string Sanitise(string raw)
    {
        var sb = new StringBuilder(raw.Length);
        foreach (char c in raw.ToLowerInvariant())
        {
            char d = c is >= 'a' and <= 'z' or >= '0' and <= '9' ? c : '-';
            if (d == '-' && (sb.Length == 0 || sb[^1] == '-')) continue;
            sb.Append(d);
        }
        while (sb.Length > 0 && sb[^1] == '-') sb.Length--;
        return sb.Length == 0 ? "unnamed" : sb.ToString();
    }

    private static string Hashed(string stem, string key, int digits)
    {
        int room = MaxLength - SuffixRoom - 2 - digits;
        if (stem.Length > room) stem = stem[..room].TrimEnd('-');
        return stem + "--" + Fnv(key, digits);
    }

    /// <summary>FNV-1a of the key: 8 hex digits (32-bit) or 16 (64-bit). Stable across runs and platforms.</summary>
    internal static string Fnv(string key, int digits)
    {
        ulong h = 14695981039346656037UL;
        foreach (char c in key) h = (h ^ c) * 1099511628211UL;
        return digits == 8
            ? ((uint)(h ^ (h >> 32))).ToString("x8", CultureInfo.InvariantCulture)
            : h.ToString("x16", CultureInfo.InvariantCulture);
    }
}

using System.IO.Compression;
using System.Text.Json;
using FlowPolicy.Core.Flows;
using FlowPolicy.Core.Net;
using FlowPolicy.Ingest.Enrichment.Internal;
using FlowPolicy.Ingest.Formats.Internal;

namespace FlowPolicy.Ingest.Enrichment;

/// <summary>
/// Loads inventory files into a <see cref="LeaseIndex"/>. Each file is detected on its own: JSON lines of leases,
/// or a kubectl/API list (<c>kubectl get pods -A -o json</c>, nodes, services) or a single Pod/Node/Service object;
/// gzip (magic 1f 8b) is undone first. Bad records become <see cref="InventoryError"/>s; the rest still loads.
/// Formats: docs/enrichment.md.
/// </summary>
/// <remarks>
/// Inventory is loaded at start and on change, not per flow, so records are parsed with JsonDocument for
/// clarity; the per-flow path (<see cref="LeaseIndex.Lookup"/>) allocates nothing.
/// </remarks>
public static class InventoryLoader
{
    /// <summary>Loads files and directories (every non-hidden file directly inside a directory, by name).</summary>
    public static InventoryLoadResult Load(IEnumerable<string> paths)
    {
        var builder = new InventoryBuilder();
        var files = ExpandPaths(paths, out var missing);
        foreach (var file in files)
        {
            builder.FileCount++;
            byte[] content;
            try
            {
                content = ReadAllBytes(file);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or InvalidDataException)
            {
                builder.Error(file, 0, InventoryError.NoItem, $"cannot read: {ex.Message}");
                continue;
            }
            Parse(content, file, builder);
        }
        foreach (var path in missing)
            builder.Error(path, 0, InventoryError.NoItem, "no such file or directory");
        return builder.Build();
    }

    /// <summary>Parses one file's content (already read); for tests and for callers that hold bytes.</summary>
    internal static InventoryLoadResult Parse(ReadOnlySpan<byte> content, string source)
    {
        var builder = new InventoryBuilder { FileCount = 1 };
        Parse(Decompress(content), source, builder);
        return builder.Build();
    }

    /// <summary>
    /// What the inventory's files are now: each file's path, size and last write time, and the paths that are missing.
    /// Equal signatures mean a reload would read the same files (the watcher and serve's jobs reload on a change).
    /// </summary>
    public static string Signature(IEnumerable<string> paths)
    {
        var builder = new System.Text.StringBuilder();
        var files = ExpandPaths(paths, out var missing);
        foreach (var file in files)
        {
            var info = new FileInfo(file);
            builder.Append(file).Append('|').Append(info.Exists ? info.Length : -1).Append('|')
                .Append(info.Exists ? info.LastWriteTimeUtc.Ticks : 0).Append('\n');
        }
        foreach (var path in missing) builder.Append(path).Append("|missing\n");
        return builder.ToString();
    }

    internal static IReadOnlyList<string> ExpandPaths(IEnumerable<string> paths, out List<string> missing)
    {
        var files = new List<string>();
        missing = new List<string>();
        foreach (var path in paths)
        {
            if (Directory.Exists(path))
            {
                var inDirectory = Directory.GetFiles(path)
                    .Where(f => !Path.GetFileName(f).StartsWith('.'))
                    .OrderBy(f => f, StringComparer.Ordinal);
                files.AddRange(inDirectory);
            }
            else if (File.Exists(path)) files.Add(path);
            else missing.Add(path);
        }
        return files;
    }

    private static byte[] ReadAllBytes(string file) => Decompress(File.ReadAllBytes(file));

    private static byte[] Decompress(ReadOnlySpan<byte> content)
    {
        if (content.Length < 2 || content[0] != 0x1f || content[1] != 0x8b) return content.ToArray();
        using var input = new MemoryStream(content.ToArray());
        using var gzip = new GZipStream(input, CompressionMode.Decompress);
        using var output = new MemoryStream();
        gzip.CopyTo(output);
        return output.ToArray();
    }

    private static void Parse(ReadOnlySpan<byte> content, string source, InventoryBuilder builder)
    {
        if (content.StartsWith("\xEF\xBB\xBF"u8)) content = content[3..];
        var trimmed = content.TrimStart(" \t\r\n"u8);
        if (trimmed.IsEmpty) return;
        if (trimmed[0] != (byte)'{')
        {
            builder.Error(source, 1, InventoryError.NoItem,
                "not an inventory file: expected JSON lines of leases or a kubectl JSON list (kubectl get pods -A -o json)");
            return;
        }

        // The first JSON value decides: an object with "items", "apiVersion" or "metadata" is Kubernetes; otherwise leases.
        var reader = new Utf8JsonReader(content, new JsonReaderOptions { AllowMultipleValues = true, CommentHandling = JsonCommentHandling.Skip });
        JsonDocument? first = null;
        try
        {
            JsonDocument.TryParseValue(ref reader, out first);
        }
        catch (JsonException ex)
        {
            int firstNewline = content.IndexOf((byte)'\n');
            var firstLine = (firstNewline < 0 ? content : content[..firstNewline]).Trim(" \t\r"u8);
            if (firstLine.SequenceEqual("{"u8))
            {
                // A pretty-printed document (kubectl output) that is broken: one error, not one per line.
                builder.Error(source, (ex.LineNumber ?? 0) + 1, InventoryError.NoItem, $"invalid JSON document: {ex.Message}");
                return;
            }
        }
        using (first)
        {
            if (first is not null && first.RootElement.ValueKind == JsonValueKind.Object
                && (first.RootElement.TryGetProperty("items", out _) || first.RootElement.TryGetProperty("apiVersion", out _)
                    || first.RootElement.TryGetProperty("metadata", out _)))
            {
                KubectlInventory.Parse(first.RootElement, source, builder);
                return;
            }
        }
        ParseLeaseLines(content, source, builder);
    }

    private static void ParseLeaseLines(ReadOnlySpan<byte> content, string source, InventoryBuilder builder)
    {
        long lineNumber = 0;
        while (!content.IsEmpty)
        {
            int newline = content.IndexOf((byte)'\n');
            var line = newline < 0 ? content : content[..newline];
            content = newline < 0 ? default : content[(newline + 1)..];
            lineNumber++;
            line = line.Trim(" \t\r"u8);
            if (line.IsEmpty) continue;
            try
            {
                using var document = JsonDocument.Parse(line.ToArray());
                if (ParseLease(document.RootElement, source, lineNumber, builder) is { } reason)
                    builder.Error(source, lineNumber, InventoryError.NoItem, reason + " in " + Excerpts.Of(line));
            }
            catch (JsonException ex)
            {
                builder.Error(source, lineNumber, InventoryError.NoItem, $"invalid JSON ({ex.Message}) in {Excerpts.Of(line)}");
            }
        }
    }

    /// <summary>Adds one lease line; returns the reason when it is rejected.</summary>
    private static string? ParseLease(JsonElement lease, string source, long line, InventoryBuilder builder)
    {
        if (lease.ValueKind != JsonValueKind.Object) return "a lease must be a JSON object";
        string? ipText = JsonFields.String(lease, "ip");
        string? cidrText = JsonFields.String(lease, "cidr");
        IpPrefix prefix;
        if (ipText is not null && cidrText is not null) return "a lease has \"ip\" or \"cidr\", not both";
        if (ipText is not null)
        {
            if (!PackedIp.TryParse(ipText.AsSpan(), out var address)) return $"\"ip\" '{ipText}' is not an IP address";
            prefix = IpPrefix.Host(address);
        }
        else if (cidrText is not null)
        {
            if (!IpPrefix.TryParse(cidrText, out prefix)) return $"\"cidr\" '{cidrText}' is not a CIDR (a.b.c.d/n or v6/n)";
        }
        else return "a lease needs \"ip\" or \"cidr\"";

        if (!JsonFields.TryTime(lease, "from", DateTime.MinValue, out var from, out var fromError)) return fromError;
        if (!JsonFields.TryTime(lease, "to", DateTime.MaxValue, out var to, out var toError)) return toError;
        if (to <= from) return "\"to\" must be after \"from\"";

        string? kindText = JsonFields.String(lease, "kind");
        EndpointKind kind = kindText?.ToLowerInvariant() switch
        {
            "pod" => EndpointKind.Pod,
            "node" => EndpointKind.Node,
            "service" => EndpointKind.Service,
            "external" => EndpointKind.External,
            _ => EndpointKind.Unknown,
        };
        if (kind == EndpointKind.Unknown)
            return kindText is null ? "a lease needs \"kind\" (pod, node, service or external)"
                : $"\"kind\" '{kindText}' is not one of pod, node, service, external";

        string? workload = JsonFields.String(lease, "workload");
        string? name = JsonFields.String(lease, "name");
        if (string.IsNullOrEmpty(workload) && string.IsNullOrEmpty(name)) return "a lease needs \"workload\" or \"name\"";

        if (!JsonFields.TryLabels(lease, "labels", builder.Interner, out var labels, out var labelError)) return labelError;
        if (!TryLeasePorts(lease, out var ports, out var portError)) return portError;

        var interner = builder.Interner;
        string? workloadKind = JsonFields.String(lease, "workload_kind");
        var ownerSource = WorkloadSource.Unknown;
        if (kind == EndpointKind.Pod)
        {
            if (!string.IsNullOrEmpty(workload) || !string.IsNullOrEmpty(workloadKind)) ownerSource = WorkloadSource.Reported;
            if (string.IsNullOrEmpty(workload))
            {
                // A pod lease with only its name: its controller from the name and labels, else a bare pod. Kind "Pod"
                // (workload_kind) says bare outright.
                var owner = string.Equals(workloadKind, WorkloadKinds.BarePod, StringComparison.OrdinalIgnoreCase)
                    ? new PodOwner(name!, WorkloadKinds.BarePod)
                    : PodOwnerInference.Infer(name!, labels);
                workload = owner.Workload;
                workloadKind = owner.Kind;
                if (ownerSource == WorkloadSource.Unknown) ownerSource = WorkloadSource.Derived;
            }
        }
        var identity = new WorkloadIdentity(kind, interner.String(JsonFields.String(lease, "namespace")), interner.String(workload),
            interner.String(workloadKind), name, labels)
        {
            WorkloadSource = ownerSource,
            ServiceAccount = interner.String(JsonFields.String(lease, "service_account")),
        };
        builder.Add(prefix, from, to, identity, ports, $"{source}:{line}");
        return null;
    }

    private static bool TryLeasePorts(JsonElement lease, out ServedPort[] ports, out string? error)
    {
        ports = [];
        error = null;
        if (!lease.TryGetProperty("ports", out var array) || array.ValueKind == JsonValueKind.Null) return true;
        if (array.ValueKind != JsonValueKind.Array)
        {
            error = "\"ports\" must be an array of {\"port\",\"protocol\",\"name\"}";
            return false;
        }
        var list = new List<ServedPort>();
        foreach (var item in array.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Object || !item.TryGetProperty("port", out var portValue)
                || !portValue.TryGetInt32(out int port) || port is < 1 or > 65535)
            {
                error = "each \"ports\" entry needs \"port\" between 1 and 65535";
                return false;
            }
            if (!JsonFields.TryProtocol(item, "protocol", out byte protocol, out error)) return false;
            list.Add(new ServedPort((ushort)port, protocol, JsonFields.String(item, "name")));
        }
        ports = list.ToArray();
        return true;
    }
}

namespace FlowPolicy.Ingest.Enrichment;

/// <summary>
/// A record of an inventory file that could not be loaded: file and line (JSON lines) or item index (kubectl
/// lists), and why. The rest of the file is still loaded.
/// </summary>
public sealed record InventoryError(string Source, long Line, int Item, string Reason)
{
    public const int NoItem = -1;

    public override string ToString() =>
        Item >= 0 ? $"{Source}: items[{Item}]: {Reason}"
        : Line > 0 ? $"{Source}:{Line}: {Reason}"
        : $"{Source}: {Reason}";
}

/// <summary>What loading the inventory produced: the index and every problem found on the way.</summary>
public sealed class InventoryLoadResult
{
    internal InventoryLoadResult(LeaseIndex index, IReadOnlyList<InventoryError> errors, int fileCount, int skippedItems,
        IReadOnlyDictionary<string, IReadOnlyList<KeyValuePair<string, string>>>? namespaceLabels = null)
    {
        NamespaceLabels = namespaceLabels ?? new Dictionary<string, IReadOnlyList<KeyValuePair<string, string>>>(StringComparer.Ordinal);
        Index = index;
        Errors = errors;
        FileCount = fileCount;
        SkippedItems = skippedItems;
    }

    public LeaseIndex Index { get; }
    public IReadOnlyList<InventoryError> Errors { get; }
    public int FileCount { get; }
    /// <summary>Objects that legitimately give no lease: hostNetwork pods, pods without an IP yet, headless Services.</summary>
    public int SkippedItems { get; }
    /// <summary>Labels of the Namespace objects found (<c>kubectl get namespaces -o json</c>), by namespace name.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<KeyValuePair<string, string>>> NamespaceLabels { get; }
}

namespace FlowPolicy.ClickHouse;

/// <summary>
/// The server's version (from <c>SELECT version()</c>) and the features FlowPolicy gates on it. Gates marked
/// "verified" were checked against 18.16.1 on our test machine; the others come from the ClickHouse
/// changelog and are only ever switched on for versions at or above the release that introduced them.
/// </summary>
public sealed record ClickHouseServerVersion(int Major, int Minor, int Patch, string Text)
{
    public static ClickHouseServerVersion Parse(string text)
    {
        var trimmed = text.Trim();
        var parts = trimmed.Split('.');
        if (parts.Length < 2 || !int.TryParse(parts[0], out var major) || !int.TryParse(parts[1], out var minor))
            throw new FormatException($"'{trimmed}' is not a ClickHouse version.");
        int patch = parts.Length > 2 && int.TryParse(parts[2], out var p) ? p : 0;
        return new ClickHouseServerVersion(major, minor, patch, trimmed);
    }

    public bool AtLeast(int major, int minor = 0, int patch = 0) =>
        (Major, Minor, Patch).CompareTo((major, minor, patch)) >= 0;

    /// <summary>Table and column TTL (changelog 19.6). Verified: 18.16 rejects the TTL clause with a syntax error.</summary>
    public bool SupportsTtl => AtLeast(19, 6);

    /// <summary>
    /// LowCardinality columns without any setting. Verified: 18.16 has the type but refuses it unless
    /// allow_experimental_low_cardinality_type=1 (code 44). Gated conservatively at 20.1 (well after the
    /// type left experimental status) so the schema only uses it where it is the normal, tested path.
    /// </summary>
    public bool SupportsLowCardinality => AtLeast(20, 1);

    /// <summary>The experimental LowCardinality of 18.x, usable with allow_experimental_low_cardinality_type=1 (verified on 18.16).</summary>
    public bool LowCardinalityNeedsExperimentalSetting => !AtLeast(19, 0);

    /// <summary>Setting insert_deduplication_token (changelog 22.2).</summary>
    public bool SupportsInsertDeduplicationToken => AtLeast(22, 2);

    /// <summary>MergeTree setting non_replicated_deduplication_window (changelog 20.12): retried inserts into non-replicated tables are dropped.</summary>
    public bool SupportsNonReplicatedDeduplication => AtLeast(20, 12);

    public override string ToString() => Text;
}

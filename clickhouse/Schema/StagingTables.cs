using System.Collections.Concurrent;
using System.Globalization;

namespace FlowPolicy.ClickHouse.Schema;

/// <summary>
/// Names of the staging tables a partition swap fills (<c>ALTER TABLE ... REPLACE PARTITION ... FROM</c>): the rollup
/// rebuild's and the SLI stores'. Two runs for the same partition can overlap (a worker leaving the group finishing its
/// last rebuild while the next starts one; serve's scheduled analyze and an `analyze --clickhouse` by hand), so each run
/// names its own table: <c>PREFIX PARTITION _ START _ RANDOM</c>, the start in Unix seconds and 32 random bits. With one
/// name per partition, one run dropped the other's table or inserted into it (doubling what the swap put in). A run
/// drops its own table when done; a crash's leftover is dropped by a later run of the same prefix once an hour old.
/// </summary>
public static class StagingTables
{
    /// <summary>How old a tagged staging table must be to be taken for a crash's leftover: far longer than any run.</summary>
    public static readonly TimeSpan LeftoverAge = TimeSpan.FromHours(1);

    public static string NewTag(DateTimeOffset now) =>
        string.Create(CultureInfo.InvariantCulture, $"{now.ToUnixTimeSeconds()}_{Random.Shared.Next():x8}");

    /// <param name="tag">Null: the untagged name of the reference scripts (one manual run at a time).</param>
    public static string Name(string prefix, string partition, string? tag) => prefix + partition + (tag is null ? "" : "_" + tag);

    /// <summary>The start time of a tagged staging table named with <paramref name="prefix"/>; null for any other name.</summary>
    public static DateTimeOffset? StartOf(string prefix, string name)
    {
        if (!name.StartsWith(prefix, StringComparison.Ordinal)) return null;
        var parts = name[prefix.Length..].Split('_');
        if (parts.Length != 3 || parts[0].Length != 8 || !parts[0].All(char.IsAsciiDigit)
            || !long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out long seconds)
            || parts[2].Length != 8 || !int.TryParse(parts[2], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out _))
            return null;
        return DateTimeOffset.FromUnixTimeSeconds(seconds);
    }

    /// <summary>Drops the tagged staging tables named with <paramref name="prefix"/> older than <see cref="LeftoverAge"/>.</summary>
    public static async Task<int> DropLeftoversAsync(ClickHouseHttpClient client, string prefix, DateTimeOffset now, CancellationToken cancellationToken)
    {
        // LIKE's '_' matches any character: a superset, which StartOf narrows to the exact names.
        var names = await SystemTableReads.ReadAsync(token => client.QueryTsvAsync(
            $"SELECT name FROM system.tables WHERE database = {ClickHouseSql.QuoteString(client.Database)} AND name LIKE {ClickHouseSql.QuoteString(prefix + "%")}",
            token), cancellationToken).ConfigureAwait(false);
        int dropped = 0;
        foreach (var row in names)
        {
            if (StartOf(prefix, row[0]) is not { } started || now - started < LeftoverAge) continue;
            await client.ExecuteAsync($"DROP TABLE IF EXISTS {ClickHouseSql.QuoteIdentifier(client.Database, row[0])}", cancellationToken).ConfigureAwait(false);
            dropped++;
        }
        return dropped;
    }

    /// <summary>
    /// One partition swap, the way every caller runs it: drops the prefix's leftovers, gives the run its own staging
    /// table (<paramref name="statements"/> are built for its tag and the target's staging engine, and are: drop, create,
    /// fill, swap, drop), runs the first two, then under <see cref="LockSwapAsync"/> the fill, <paramref name="beforeSwap"/>
    /// (which may add rows to the staging table, or count them) and the swap; the staging table is dropped even after a
    /// failure. Returns what <paramref name="beforeSwap"/> returned.
    /// </summary>
    public static async Task<T> SwapAsync<T>(ClickHouseHttpClient client, string table, string prefix, string partition,
        Func<string, string?, IReadOnlyList<string>> statements, Func<string, Task<T>> beforeSwap, CancellationToken cancellationToken)
    {
        await DropLeftoversAsync(client, prefix, DateTimeOffset.UtcNow, cancellationToken).ConfigureAwait(false);
        var stagingEngine = await ClusterSchema.StagingEngineAsync(client, table, cancellationToken).ConfigureAwait(false);
        string tag = NewTag(DateTimeOffset.UtcNow);
        var sql = statements(tag, stagingEngine);
        string staging = Name(prefix, partition, tag);
        try
        {
            for (int i = 0; i < 2; i++) await client.ExecuteAsync(sql[i], cancellationToken).ConfigureAwait(false);
            using var swap = await LockSwapAsync(client.Database, table, partition, cancellationToken).ConfigureAwait(false);
            await client.ExecuteAsync(sql[2], cancellationToken).ConfigureAwait(false);
            var result = await beforeSwap(staging).ConfigureAwait(false);
            // The last statement drops the staging table: done below, also after a failure.
            for (int i = 3; i < sql.Count - 1; i++) await client.ExecuteAsync(sql[i], cancellationToken).ConfigureAwait(false);
            return result;
        }
        finally
        {
            await DropQuietlyAsync(client, staging).ConfigureAwait(false);
        }
    }

    private static readonly ConcurrentDictionary<string, SemaphoreSlim> SwapLocks = new(StringComparer.Ordinal);

    /// <summary>
    /// Holds the swap of one partition of one table for this process until disposed (<see cref="SwapAsync{T}"/>): filling
    /// the staging table and the REPLACE PARTITION. Separate tables were not enough: four concurrent stores of one window on
    /// ClickHouse 18.16 left the day with other than its rows in 2 of ~50 runs under load
    /// (SliStoreOverlapTests), and a store that copies the day's other windows while another swaps one in puts back
    /// the old rows. Runs in other processes (serve and a manual `analyze --clickhouse`) are not covered.
    /// </summary>
    public static async Task<IDisposable> LockSwapAsync(string database, string table, string partition, CancellationToken cancellationToken)
    {
        var gate = SwapLocks.GetOrAdd(database + "\n" + table + "\n" + partition, static _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        return new Release(gate);
    }

    private sealed class Release(SemaphoreSlim gate) : IDisposable
    {
        private int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0) gate.Release();
        }
    }

    /// <summary>Drops a run's own staging table, best effort (a server that is gone keeps it until a later run finds it old).</summary>
    public static async Task DropQuietlyAsync(ClickHouseHttpClient client, string name)
    {
        try
        {
            await client.ExecuteAsync($"DROP TABLE IF EXISTS {ClickHouseSql.QuoteIdentifier(client.Database, name)}", CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e) when (e is ClickHouseServerException or HttpRequestException or TimeoutException or IOException)
        {
        }
    }
}

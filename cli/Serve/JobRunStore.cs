using System.Globalization;
using FlowPolicy.ClickHouse;
using FlowPolicy.ClickHouse.Schema;

namespace FlowPolicy.Cli.Serve;

/// <summary>A recorded attempt of a job window (a row of job_runs).</summary>
internal sealed record JobRun(string Job, JobWindow Window, string Status, int Attempt, DateTime Started, DateTime Finished,
    string Trigger, string Host, string Error, string Summary);

/// <summary>
/// The job_runs table: what ran, when, for which window, and how it ended. The scheduler's memory across restarts:
/// catch-up reads which windows succeeded from here. Values go into SQL only through <see cref="ClickHouseSql"/>.
/// </summary>
internal sealed class JobRunStore(ClickHouseHttpClient client)
{
    public const string Succeeded = "succeeded";
    public const string Failed = "failed";
    public const string Skipped = "skipped";

    private string Table => ClickHouseSql.QuoteIdentifier(client.Database, FlowTables.JobRuns);

    public Task RecordAsync(JobRun run, CancellationToken cancellationToken) => client.ExecuteAsync(
        $"INSERT INTO {Table} (`job`, `window_start`, `window_end`, `status`, `attempt`, `started`, `finished`, `trigger`, `host`, `error`, `summary`) VALUES (" +
        $"{ClickHouseSql.QuoteString(run.Job)}, {ClickHouseSql.FormatDateTime(run.Window.Start)}, {ClickHouseSql.FormatDateTime(run.Window.End)}, " +
        $"{ClickHouseSql.QuoteString(run.Status)}, {ClickHouseSql.FormatNumber(run.Attempt)}, {ClickHouseSql.FormatDateTime(run.Started)}, " +
        $"{ClickHouseSql.FormatDateTime(run.Finished)}, {ClickHouseSql.QuoteString(run.Trigger)}, {ClickHouseSql.QuoteString(run.Host)}, " +
        $"{ClickHouseSql.QuoteString(Truncate(run.Error, 4000))}, {ClickHouseSql.QuoteString(Truncate(run.Summary, 4000))})",
        cancellationToken);

    /// <summary>
    /// Window ends of the job's done runs ending after <paramref name="after"/>: succeeded, or skipped (the job looked
    /// at the window and had nothing to write; running it again gives the same answer, `jobs run` reruns on purpose).
    /// </summary>
    public async Task<HashSet<DateTime>> SucceededEndsAsync(string job, DateTime after, CancellationToken cancellationToken)
    {
        var rows = await client.QueryTsvAsync(
            $"SELECT DISTINCT toUnixTimestamp(`window_end`) FROM {Table} WHERE `job` = {ClickHouseSql.QuoteString(job)} " +
            $"AND `status` IN ({ClickHouseSql.QuoteString(Succeeded)}, {ClickHouseSql.QuoteString(Skipped)}) AND `window_end` > {ClickHouseSql.FormatDateTime(after)}", cancellationToken).ConfigureAwait(false);
        return rows.Select(r => UnixTime(r[0])).ToHashSet();
    }

    /// <summary>The end of the job's first recorded window: catch-up never goes before it. Null when the job never ran.</summary>
    public async Task<DateTime?> FirstWindowEndAsync(string job, CancellationToken cancellationToken)
    {
        var rows = await client.QueryTsvAsync(
            $"SELECT count(), toUnixTimestamp(min(`window_end`)) FROM {Table} WHERE `job` = {ClickHouseSql.QuoteString(job)}", cancellationToken).ConfigureAwait(false);
        return rows.Count == 0 || rows[0][0] == "0" ? null : UnixTime(rows[0][1]);
    }

    /// <summary>The newest <paramref name="limit"/> attempts of a job (or of every job), newest first.</summary>
    public async Task<IReadOnlyList<JobRun>> RecentAsync(string? job, int limit, CancellationToken cancellationToken)
    {
        var where = job is null ? "" : $" WHERE `job` = {ClickHouseSql.QuoteString(job)}";
        var rows = await client.QueryTsvAsync(
            $"SELECT `job`, toUnixTimestamp(`window_start`), toUnixTimestamp(`window_end`), toString(`status`), `attempt`, toUnixTimestamp(`started`), " +
            $"toUnixTimestamp(`finished`), `trigger`, `host`, `error`, `summary` FROM {Table}{where} ORDER BY `finished` DESC, `window_end` DESC LIMIT {ClickHouseSql.FormatNumber(limit)}",
            cancellationToken).ConfigureAwait(false);
        return rows.Select(r => new JobRun(r[0], new JobWindow(UnixTime(r[1]), UnixTime(r[2])), r[3], int.Parse(r[4], CultureInfo.InvariantCulture),
            UnixTime(r[5]), UnixTime(r[6]), r[7], r[8], r[9], r[10])).ToList();
    }

    private static DateTime UnixTime(string seconds) => DateTime.UnixEpoch.AddSeconds(long.Parse(seconds, CultureInfo.InvariantCulture));

    private static string Truncate(string text, int max) => text.Length <= max ? text : text[..max];
}

using FlowPolicy.Core.Retry;

namespace FlowPolicy.ClickHouse.Schema;

/// <summary>
/// Reads of <c>system.tables</c>/<c>system.columns</c> that survive other jobs' staging tables. ClickHouse 18.16 lists
/// every table of the database before it applies the <c>WHERE name = ...</c> filter, and fails the whole read with
/// error 60 ("Table db.sli_windows_replace_20261203 doesn't exist") when one of them is dropped in between — which
/// the rollup, the SLI and the anomaly jobs do every window with their staging tables. The read is retried a few
/// times: a staging table lives for a few statements, so the next read no longer lists it.
/// </summary>
internal static class SystemTableReads
{
    private const int Attempts = 6;

    public static async Task<T> ReadAsync<T>(Func<CancellationToken, Task<T>> read, CancellationToken cancellationToken)
    {
        var backoff = new Backoff(TimeSpan.FromMilliseconds(20), TimeSpan.FromMilliseconds(500));
        while (true)
        {
            try
            {
                return await read(cancellationToken).ConfigureAwait(false);
            }
            catch (ClickHouseServerException e) when (e.Code == ClickHouseServerException.UnknownTable && backoff.Failures < Attempts - 1)
            {
                await backoff.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
        }
    }
}

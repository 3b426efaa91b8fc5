namespace FlowPolicy.Tests.Support;

/// <summary>Allocation measurements for steady-state tests.</summary>
internal static class Allocations
{
    /// <summary>
    /// The fewest bytes this thread allocated in one of up to <paramref name="passes"/> runs of <paramref name="run"/>
    /// (stopping at the first that allocated nothing). The least rather than one pass: one CI run saw a single pass of a
    /// zero-allocation decoder allocate over 1,000 bytes, most likely the runtime's own work on this thread (tiered
    /// JIT), while an allocation of the code under test shows in every pass.
    /// </summary>
    public static long LeastBytes(Action run, int passes = 5)
    {
        long least = long.MaxValue;
        for (int pass = 0; pass < passes && least > 0; pass++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            run();
            least = Math.Min(least, GC.GetAllocatedBytesForCurrentThread() - before);
        }
        return least;
    }
}

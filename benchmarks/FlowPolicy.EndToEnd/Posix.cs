using System.Runtime.InteropServices;

namespace FlowPolicy.EndToEnd;

internal static class Posix
{
    /// <summary>SIGTERM: `flowpolicy ingest` flushes, commits and leaves its group, as in production.</summary>
    public static void Terminate(int pid) => _ = kill(pid, 15);

    [DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int sig);
}

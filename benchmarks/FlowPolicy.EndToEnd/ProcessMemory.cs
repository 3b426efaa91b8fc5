using System.Globalization;

namespace FlowPolicy.EndToEnd;

/// <summary>Resident memory of a process from /proc (Linux): current (VmRSS) and peak (VmHWM), in bytes.</summary>
internal static class ProcessMemory
{
    public static long Resident(int pid) => Read(pid, "VmRSS:");

    /// <summary>Peak resident set since start or since <see cref="ResetPeak"/>.</summary>
    public static long Peak(int pid) => Read(pid, "VmHWM:");

    /// <summary>Resets VmHWM to the current RSS (writing 5 to clear_refs, Linux 4.0+), so a peak covers one phase.</summary>
    public static bool ResetPeak(int pid)
    {
        try
        {
            File.WriteAllText($"/proc/{pid}/clear_refs", "5");
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>User + system CPU seconds the process used so far (/proc/PID/stat fields 14 and 15, 100 ticks/s).</summary>
    public static double CpuSeconds(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / 100.0;
        }
        catch (IOException)
        {
            return double.NaN;
        }
    }

    private static long Read(int pid, string field)
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            {
                if (!line.StartsWith(field, StringComparison.Ordinal)) continue;
                var kb = line[field.Length..].Trim().Split(' ')[0];
                return long.Parse(kb, CultureInfo.InvariantCulture) * 1024;
            }
        }
        catch (IOException) { }
        return -1;
    }

    public static string Mib(long bytes) => bytes < 0 ? "n/a" : (bytes / 1048576.0).ToString("F0", CultureInfo.InvariantCulture) + " MiB";
}

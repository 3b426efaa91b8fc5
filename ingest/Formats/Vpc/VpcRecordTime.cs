using System.Globalization;

namespace FlowPolicy.Ingest.Formats.Vpc;

/// <summary>Where the time of AWS VPC records without <c>start</c>/<c>end</c> fields came from.</summary>
internal enum VpcTimeOrigin : byte
{
    /// <summary>The user gave it (<c>--time</c>).</summary>
    Given = 1,
    /// <summary>The delivery file's name: <c>..._vpcflowlogs_REGION_FLOWLOGID_YYYYMMDDTHHmmZ_HASH.log.gz</c>, written at the end of its 5-minute window.</summary>
    DeliveryFileName = 2,
    /// <summary>The hour partition of the delivery path (<c>.../YYYY/MM/DD/HH/</c> or <c>hour=HH</c>): the start of that hour.</summary>
    DeliveryPathHour = 3,
    /// <summary>The date of the delivery path (<c>AWSLogs/ACCOUNT/vpcflowlogs/REGION/YYYY/MM/DD/</c>): midnight UTC of that day.</summary>
    DeliveryPathDay = 4,
}

/// <summary>
/// The time of AWS VPC flow log records whose custom format has neither <c>start</c> nor <c>end</c> (AWS documents
/// such formats; transit gateway flow logs are often configured so). Every record of such a file gets one time: the one
/// the user gave, else the most precise one the S3 delivery path holds. docs/formats.md, "AWS VPC".
/// </summary>
internal static class VpcRecordTime
{
    /// <summary>What to pass when neither is there; part of every error about it.</summary>
    public const string Remedy =
        "its records have no start or end field: pass --time T (the time to give them, RFC 3339), or read the file from its S3 delivery path " +
        "(AWSLogs/ACCOUNT/vpcflowlogs/REGION/YYYY/MM/DD/...), whose date is used";

    /// <summary>The given time, else the delivery path's; false when neither is known.</summary>
    public static bool TryResolve(DateTime? given, string source, out DateTime time, out VpcTimeOrigin origin)
    {
        if (given is { } t)
        {
            time = t;
            origin = VpcTimeOrigin.Given;
            return true;
        }
        return TryFromDeliveryPath(source, out time, out origin);
    }

    /// <summary>
    /// The time an S3 delivery path says: the file name's timestamp, else the hour partition, else the date partition,
    /// in AWS's default layout or its Hive-compatible one (<c>aws-account-id=/aws-service=vpcflowlogs/aws-region=/year=/month=/day=[/hour=]</c>).
    /// </summary>
    public static bool TryFromDeliveryPath(string path, out DateTime time, out VpcTimeOrigin origin)
    {
        time = default;
        origin = default;
        var parts = path.Replace('\\', '/').Split('/', StringSplitOptions.RemoveEmptyEntries);
        int logs = Array.LastIndexOf(parts, "AWSLogs");
        if (logs < 0) return false;
        string? year = null, month = null, day = null, hour = null;
        // Default layout: AWSLogs/ACCOUNT/vpcflowlogs/REGION/YYYY/MM/DD[/HH]/file
        if (logs + 7 < parts.Length && parts[logs + 2] == "vpcflowlogs")
        {
            (year, month, day) = (parts[logs + 4], parts[logs + 5], parts[logs + 6]);
            if (logs + 8 < parts.Length) hour = parts[logs + 7];
        }
        // Hive-compatible layout: key=value folders.
        else if (logs + 7 < parts.Length && parts[logs + 2] == "aws-service=vpcflowlogs")
        {
            for (int i = logs + 4; i < parts.Length - 1; i++)
            {
                var (key, value) = parts[i].IndexOf('=') is int eq and > 0 ? (parts[i][..eq], parts[i][(eq + 1)..]) : ("", "");
                switch (key)
                {
                    case "year": year = value; break;
                    case "month": month = value; break;
                    case "day": day = value; break;
                    case "hour": hour = value; break;
                }
            }
        }
        if (year is null || !DateTime.TryParseExact($"{year}-{month}-{day}", "yyyy-MM-dd", CultureInfo.InvariantCulture,
                DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var date))
            return false;

        if (FileNameTime(parts[^1]) is { } stamped && stamped.Date == date)
        {
            time = stamped;
            origin = VpcTimeOrigin.DeliveryFileName;
        }
        else if (hour is { Length: 2 } && int.TryParse(hour, NumberStyles.None, CultureInfo.InvariantCulture, out int h) && h < 24)
        {
            time = date.AddHours(h);
            origin = VpcTimeOrigin.DeliveryPathHour;
        }
        else
        {
            time = date;
            origin = VpcTimeOrigin.DeliveryPathDay;
        }
        return true;
    }

    /// <summary>"_20261102T1005Z_" in a delivery file's name.</summary>
    private static DateTime? FileNameTime(string name)
    {
        foreach (var part in name.Split('_'))
            if (part.Length == 14 && part[8] == 'T' && part[13] == 'Z'
                && DateTime.TryParseExact(part, "yyyyMMdd'T'HHmm'Z'", CultureInfo.InvariantCulture,
                    DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var time))
                return time;
        return null;
    }

    /// <summary>The sentence for stderr and docs: which time records without start/end were given.</summary>
    public static string Describe(DateTime time, VpcTimeOrigin origin)
    {
        string at = time.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
        return origin switch
        {
            VpcTimeOrigin.Given => $"records have no start/end: time {at} from --time",
            VpcTimeOrigin.DeliveryFileName => $"records have no start/end: time {at} from the delivery file's name (the end of its 5-minute window)",
            VpcTimeOrigin.DeliveryPathHour => $"records have no start/end: time {at} from the delivery path's hour",
            _ => $"records have no start/end: time {at} from the delivery path's date (midnight UTC; pass --time for a better one)",
        };
    }
}

namespace FlowPolicy.Ingest.Direction.Internal;

/// <summary>Port classes for the last-resort direction rules.</summary>
internal static class ServicePorts
{
    public const int Service = 0;
    public const int Registered = 1;
    public const int Ephemeral = 2;

    /// <summary>Linux uses 32768-60999, Windows and IANA 49152-65535: the union is where clients come from.</summary>
    public const int EphemeralStart = 32768;

    // Registered (>= 1024) ports that servers commonly listen on; IANA registrations plus the de facto ones of
    // cloud-native software. Ports below 1024 are all treated as services.
    private static readonly ushort[] KnownServicePorts =
    [
        1080, 1433, 1521, 1883, 2049, 2181, 2375, 2376, 2379, 2380, 3000, 3306, 3389, 4222, 4240, 4244, 4245,
        4317, 4318, 5000, 5044, 5432, 5601, 5671, 5672, 5900, 6379, 6443, 7000, 7001, 7199, 7443, 8000, 8008,
        8080, 8081, 8082, 8086, 8088, 8125, 8200, 8300, 8301, 8302, 8443, 8500, 8888, 9000, 9042, 9090, 9091,
        9092, 9093, 9094, 9100, 9200, 9300, 9411, 9443, 10250, 10255, 10256, 11211, 15010, 15012, 15014,
        15017, 15021, 15090, 15672, 16686, 26257, 27017, 27018, 27019, 50051,
    ];

    private static readonly bool[] Known = BuildKnown();

    private static bool[] BuildKnown()
    {
        var known = new bool[65536];
        for (int port = 1; port < 1024; port++) known[port] = true;
        foreach (var port in KnownServicePorts) known[port] = true;
        return known;
    }

    public static int Class(ushort port) =>
        Known[port] ? Service : port >= EphemeralStart ? Ephemeral : Registered;
}

using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace FlowPolicy.LocalServers.Kafka.Internal;

/// <summary>
/// The few librdkafka C calls the mock cluster needs that Confluent.Kafka does not expose: creating a topic
/// with a chosen partition count (the mock answers CreateTopics with nothing, and auto-creates with a fixed 4) and
/// reading the mock's bootstrap list. Signatures from rdkafka.h / rdkafka_mock.h (stable since librdkafka 1.3).
/// </summary>
internal static class RdKafkaMock
{
    private const string Lib = LibrdkafkaBinding.Name;
    private const int ProducerType = 0; // RD_KAFKA_PRODUCER
    private const int ConfOk = 0;       // RD_KAFKA_CONF_OK

    static RdKafkaMock() => LibrdkafkaBinding.Register(typeof(RdKafkaMock).Assembly);

    [DllImport(Lib)]
    private static extern IntPtr rd_kafka_conf_new();

    [DllImport(Lib)]
    private static extern void rd_kafka_conf_destroy(IntPtr conf);

    [DllImport(Lib)]
    private static extern int rd_kafka_conf_set(
        IntPtr conf,
        [MarshalAs(UnmanagedType.LPUTF8Str)] string name,
        [MarshalAs(UnmanagedType.LPUTF8Str)] string value,
        byte[] errstr,
        UIntPtr errstrSize);

    [DllImport(Lib)]
    private static extern IntPtr rd_kafka_new(int type, IntPtr conf, byte[] errstr, UIntPtr errstrSize);

    [DllImport(Lib)]
    internal static extern void rd_kafka_destroy(IntPtr rk);

    [DllImport(Lib)]
    private static extern IntPtr rd_kafka_handle_mock_cluster(IntPtr rk);

    [DllImport(Lib)]
    private static extern IntPtr rd_kafka_mock_cluster_bootstraps(IntPtr mcluster);

    [DllImport(Lib)]
    private static extern int rd_kafka_mock_topic_create(
        IntPtr mcluster, [MarshalAs(UnmanagedType.LPUTF8Str)] string topic, int partitionCount, int replicationFactor);

    [DllImport(Lib)]
    private static extern IntPtr rd_kafka_err2str(int err);

    /// <summary>Creates a producer handle that hosts a mock cluster of <paramref name="brokers"/> brokers.</summary>
    internal static RdKafkaHandle CreateMockHost(int brokers)
    {
        var conf = rd_kafka_conf_new();
        var errstr = new byte[512];
        try
        {
            Set(conf, "test.mock.num.brokers", brokers.ToString(System.Globalization.CultureInfo.InvariantCulture), errstr);
            // librdkafka logs "Mock cluster enabled ..." at notice level to stderr; we print the address ourselves.
            Set(conf, "log_level", "4", errstr);
            var rk = rd_kafka_new(ProducerType, conf, errstr, (UIntPtr)errstr.Length);
            if (rk == IntPtr.Zero)
            {
                throw new InvalidOperationException($"librdkafka could not start a mock cluster: {Text(errstr)}");
            }
            conf = IntPtr.Zero; // rd_kafka_new took ownership
            return new RdKafkaHandle(rk);
        }
        finally
        {
            if (conf != IntPtr.Zero)
            {
                rd_kafka_conf_destroy(conf);
            }
        }
    }

    internal static string Bootstraps(RdKafkaHandle host) =>
        Marshal.PtrToStringUTF8(rd_kafka_mock_cluster_bootstraps(Cluster(host)))
        ?? throw new InvalidOperationException("librdkafka returned no mock bootstrap address.");

    /// <summary>Returns 0 on success, else librdkafka's error code (36 = topic already exists).</summary>
    internal static int CreateTopic(RdKafkaHandle host, string topic, int partitions, int replicationFactor) =>
        rd_kafka_mock_topic_create(Cluster(host), topic, partitions, replicationFactor);

    internal static string ErrorText(int err) => Marshal.PtrToStringUTF8(rd_kafka_err2str(err)) ?? $"error {err}";

    private static IntPtr Cluster(RdKafkaHandle host)
    {
        ObjectDisposedException.ThrowIf(host.IsClosed, host);
        var cluster = rd_kafka_handle_mock_cluster(host.DangerousGetHandle());
        return cluster != IntPtr.Zero ? cluster : throw new InvalidOperationException("The librdkafka handle hosts no mock cluster.");
    }

    private static void Set(IntPtr conf, string name, string value, byte[] errstr)
    {
        if (rd_kafka_conf_set(conf, name, value, errstr, (UIntPtr)errstr.Length) != ConfOk)
        {
            throw new InvalidOperationException($"librdkafka rejected {name}={value}: {Text(errstr)}");
        }
    }

    private static string Text(byte[] errstr)
    {
        var end = Array.IndexOf(errstr, (byte)0);
        return System.Text.Encoding.UTF8.GetString(errstr, 0, end < 0 ? errstr.Length : end);
    }
}

/// <summary>Owns an rd_kafka_t; destroying it also stops the mock cluster it hosts.</summary>
internal sealed class RdKafkaHandle : SafeHandleZeroOrMinusOneIsInvalid
{
    internal RdKafkaHandle(IntPtr rk) : base(ownsHandle: true) => SetHandle(rk);

    protected override bool ReleaseHandle()
    {
        RdKafkaMock.rd_kafka_destroy(handle);
        return true;
    }
}

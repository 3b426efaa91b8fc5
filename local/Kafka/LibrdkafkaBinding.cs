using System.Reflection;
using System.Runtime.InteropServices;
using Confluent.Kafka;

namespace FlowPolicy.LocalServers.Kafka;

/// <summary>
/// Binds FlowPolicy's own librdkafka P/Invokes (the mock cluster's C API, which Confluent.Kafka does not wrap) to the
/// native library Confluent.Kafka itself loads from the librdkafka.redist package. The redist ships several Linux
/// builds next to each other (runtimes/linux-x64/native): <c>librdkafka.so</c> (needs Red Hat's libsasl2.so.3, so it
/// does not load on Debian), <c>centos8-librdkafka.so</c> (no GSSAPI; SSL, SCRAM and OAUTHBEARER work) and
/// <c>alpine-librdkafka.so</c> (musl). Confluent.Kafka 2.16 tries them in that order (alpine first on musl); we try the
/// same names, so both bind to the same loaded file and share one librdkafka.
/// </summary>
internal static class LibrdkafkaBinding
{
    /// <summary>The library name to give <c>[DllImport]</c>; resolved by <see cref="Register"/>.</summary>
    public const string Name = "librdkafka";

    /// <summary>The running librdkafka's version (e.g. "2.16.0"); loads the library on first use.</summary>
    public static string Version => Library.VersionString;

    /// <summary>
    /// Resolves <see cref="Name"/> for the P/Invokes of <paramref name="assembly"/>. Call once per assembly, from its
    /// type's static constructor, before its first P/Invoke; a second call for the same assembly is ignored.
    /// </summary>
    public static void Register(Assembly assembly)
    {
        try
        {
            NativeLibrary.SetDllImportResolver(assembly, Resolve);
        }
        catch (InvalidOperationException)
        {
            // A resolver is set once per assembly; this assembly already has ours.
        }
    }

    private static IntPtr Resolve(string name, Assembly assembly, DllImportSearchPath? searchPath)
    {
        if (name != Name)
        {
            return IntPtr.Zero;
        }
        // Search where Confluent.Kafka's own P/Invokes are searched: the redist's runtimes/<rid>/native folder.
        var confluent = typeof(Library).Assembly;
        foreach (var candidate in Candidates())
        {
            if (NativeLibrary.TryLoad(candidate, confluent, null, out var handle))
            {
                return handle;
            }
        }
        throw new DllNotFoundException(
            "librdkafka (from the librdkafka.redist NuGet package) could not be loaded: tried " + string.Join(", ", Candidates()) +
            ". Run `dotnet restore` and check that runtimes/<rid>/native is next to the program.");
    }

    private static string[] Candidates() =>
        IsMusl() ? ["alpine-librdkafka", "librdkafka"] : ["librdkafka", "centos8-librdkafka"];

    // Confluent.Kafka picks the alpine build when /etc/os-release names Alpine; so do we.
    private static bool IsMusl()
    {
        try
        {
            return File.Exists("/etc/os-release") && File.ReadAllText("/etc/os-release").Contains("alpine", StringComparison.OrdinalIgnoreCase);
        }
        catch (IOException)
        {
            return false;
        }
    }
}

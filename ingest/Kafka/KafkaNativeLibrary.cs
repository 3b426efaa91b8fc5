using System.Reflection;
using System.Runtime.InteropServices;
using Confluent.Kafka;

namespace FlowPolicy.Ingest.Kafka;

/// <summary>
/// Loads the operating system's librdkafka (Debian package librdkafka1) for Confluent.Kafka 1.9.3.
/// We ship no native binaries: the librdkafka.redist package is a payload-free stand-in (deploy/nuget-local).
/// Call <see cref="EnsureLoaded"/> before creating any Kafka client; it is idempotent and thread-safe.
/// </summary>
public static class KafkaNativeLibrary
{
    /// <summary>The soname Debian's librdkafka1 installs (there is no unversioned librdkafka.so without -dev).</summary>
    public const string SharedObjectName = "librdkafka.so.1";

    private static readonly Lock Gate = new();
    private static volatile bool _loaded;
    private static IntPtr _librdkafka;

    /// <summary>librdkafka's version string once loaded (e.g. "2.0.2"), else null.</summary>
    public static string? Version { get; private set; }

    public static void EnsureLoaded()
    {
        if (_loaded)
        {
            return;
        }
        lock (Gate)
        {
            if (_loaded)
            {
                return;
            }
            if (!NativeLibrary.TryLoad(SharedObjectName, out _librdkafka))
            {
                throw new InvalidOperationException(
                    $"Kafka needs the native library {SharedObjectName}, which was not found. " +
                    "Install it with `apt-get install librdkafka1` (Debian/Ubuntu) and run again.");
            }
            RegisterResolver();
            try
            {
                // Confluent.Kafka dlopen()s this path itself; after this its P/Invokes bind to the OS library.
                Library.Load(SharedObjectName);
            }
            catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException or InvalidOperationException)
            {
                throw new InvalidOperationException(
                    $"Could not load {SharedObjectName} into Confluent.Kafka: {e.Message}. " +
                    "Install it with `apt-get install librdkafka1` (Debian/Ubuntu) and run again.", e);
            }
            Version = Library.VersionString;
            _loaded = true;
        }
    }

    private static void RegisterResolver()
    {
        try
        {
            NativeLibrary.SetDllImportResolver(typeof(Library).Assembly, Resolve);
        }
        catch (InvalidOperationException)
        {
            // A resolver can be set once per assembly; someone (a test host, a second AssemblyLoadContext) already did.
        }
    }

    // Confluent.Kafka 1.9.3 P/Invokes dlopen through "libdl", which glibc only ships as libdl.so.2 (no libdl.so
    // without libc6-dev), and binds librdkafka as "librdkafka" (no unversioned .so without librdkafka-dev).
    private static IntPtr Resolve(string name, Assembly assembly, DllImportSearchPath? searchPath)
    {
        if (name == "libdl")
        {
            return NativeLibrary.TryLoad("libdl.so.2", out var libdl) ? libdl : IntPtr.Zero;
        }
        if (name == "librdkafka" && _librdkafka != IntPtr.Zero)
        {
            return _librdkafka;
        }
        return IntPtr.Zero;
    }
}

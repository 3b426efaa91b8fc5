using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace FlowPolicy.IntegrationTests.Cluster;

/// <summary>
/// A private standalone ZooKeeper (Debian's zookeeper package: /usr/share/java/zookeeper.jar, whose manifest lists its
/// dependencies) on a loopback port with its own data directory, for replicated ClickHouse tables. Starts in about a second.
/// </summary>
internal sealed class LocalZooKeeper : IAsyncDisposable
{
    public const string Jar = "/usr/share/java/zookeeper.jar";
    private readonly Process _process;
    private readonly string _dir;

    private LocalZooKeeper(Process process, string dir, int port)
    {
        _process = process;
        _dir = dir;
        Port = port;
    }

    public int Port { get; }

    public static bool IsInstalled => File.Exists(Jar);

    public static async Task<LocalZooKeeper> StartAsync(int port, CancellationToken cancellationToken = default)
    {
        var dir = Path.Combine(Path.GetTempPath(), "flowpolicy-zk-" + Guid.NewGuid().ToString("N")[..10]);
        Directory.CreateDirectory(Path.Combine(dir, "data"));
        var config = Path.Combine(dir, "zoo.cfg");
        await File.WriteAllTextAsync(config,
            $"tickTime=500\ndataDir={Path.Combine(dir, "data")}\nclientPort={port}\nclientPortAddress=127.0.0.1\n" +
            "admin.enableServer=false\n4lw.commands.whitelist=ruok\n", cancellationToken);
        var start = new ProcessStartInfo("java") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in new[] { "-Xmx128m", "-cp", Jar, "-Dzookeeper.log.dir=" + dir, "org.apache.zookeeper.server.quorum.QuorumPeerMain", config })
            start.ArgumentList.Add(arg);
        var process = Process.Start(start) ?? throw new InvalidOperationException("java did not start");
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var zk = new LocalZooKeeper(process, dir, port);
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (!await IsOkAsync(port))
        {
            if (process.HasExited || DateTime.UtcNow > deadline)
            {
                await zk.DisposeAsync();
                throw new InvalidOperationException($"ZooKeeper did not answer ruok on 127.0.0.1:{port}");
            }
            await Task.Delay(100, cancellationToken);
        }
        return zk;
    }

    private static async Task<bool> IsOkAsync(int port)
    {
        try
        {
            using var client = new TcpClient();
            await client.ConnectAsync(IPAddress.Loopback, port);
            var stream = client.GetStream();
            await stream.WriteAsync("ruok"u8.ToArray());
            var buffer = new byte[4];
            int read = await stream.ReadAtLeastAsync(buffer, 4, throwOnEndOfStream: false);
            return Encoding.ASCII.GetString(buffer, 0, read) == "imok";
        }
        catch (SocketException) { return false; }
        catch (IOException) { return false; }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }
}

using System.IO.Compression;
using System.Text;

namespace FlowPolicy.Tests.Enrichment;

/// <summary>A temporary directory of inventory files, deleted when disposed.</summary>
internal sealed class InventoryTestFiles : IDisposable
{
    public InventoryTestFiles()
    {
        Directory = Path.Combine(Path.GetTempPath(), "flowpolicy-inventory-" + Guid.NewGuid().ToString("N"));
        System.IO.Directory.CreateDirectory(Directory);
    }

    public string Directory { get; }

    public string Write(string name, string content)
    {
        var path = Path.Combine(Directory, name);
        File.WriteAllText(path, content);
        return path;
    }

    public string WriteGzip(string name, string content)
    {
        var path = Path.Combine(Directory, name);
        using var file = File.Create(path);
        using var gzip = new GZipStream(file, CompressionLevel.Fastest);
        gzip.Write(Encoding.UTF8.GetBytes(content));
        return path;
    }

    public void Dispose()
    {
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

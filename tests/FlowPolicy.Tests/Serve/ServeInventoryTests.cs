using FlowPolicy.Cli.Serve;

namespace FlowPolicy.Tests.Serve;

/// <summary>Serve's jobs read the inventory several times per run: the files are parsed again only when they changed.</summary>
public sealed class ServeInventoryTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("flowpolicy-serve-inventory-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static string Nodes(params string[] addresses) =>
        "{\"kind\":\"List\",\"items\":[" + string.Join(',', addresses.Select((a, i) =>
            $"{{\"kind\":\"Node\",\"metadata\":{{\"name\":\"node-{i}\"}},\"status\":{{\"addresses\":[{{\"type\":\"InternalIP\",\"address\":\"{a}\"}}]}}}}")) + "]}";

    [Fact]
    public void An_unchanged_inventory_is_parsed_once_and_an_edited_one_again()
    {
        var file = Path.Combine(_dir, "nodes.json");
        File.WriteAllText(file, Nodes("10.0.0.1"));
        var inventory = new ServeInventory([_dir]);
        var first = inventory.Load();
        Assert.NotNull(first);
        Assert.Same(first, inventory.Load());
        Assert.Single(first.Index.NodeAddresses);

        File.WriteAllText(file, Nodes("10.0.0.1", "10.0.0.2"));
        File.SetLastWriteTimeUtc(file, DateTime.UtcNow.AddMinutes(1));
        var edited = inventory.Load();
        Assert.NotSame(first, edited);
        Assert.Equal(2, edited!.Index.NodeAddresses.Count);

        File.WriteAllText(Path.Combine(_dir, "more.json"), Nodes("10.0.0.3"));
        Assert.Equal(3, inventory.Load()!.Index.NodeAddresses.Count);
        Assert.Null(new ServeInventory([]).Load());
    }
}

using FlowPolicy.Core.Net;
using FlowPolicy.Ingest.Enrichment;

namespace FlowPolicy.Tests.Enrichment;

public sealed class InventoryWatcherTests
{
    private static readonly DateTime Nov1 = new(2026, 11, 1, 0, 0, 0, DateTimeKind.Utc);
    private static readonly PackedIp Cart = PackedIp.Parse("10.244.1.7");

    private static string Lease(string workload) =>
        $$"""{"ip":"10.244.1.7","from":"2026-11-01T00:00:00Z","kind":"pod","namespace":"shop","workload":"{{workload}}"}""" + "\n";

    [Fact]
    public async Task A_changed_file_is_loaded_once_it_has_settled()
    {
        using var files = new InventoryTestFiles();
        var path = files.Write("leases.jsonl", Lease("cart"));
        var loads = new List<InventoryLoadResult>();
        var watcher = new InventoryWatcher(new InventoryWatcherOptions { Paths = [files.Directory], PollInterval = TimeSpan.FromHours(1) }, loads.Add);

        await watcher.StartAsync();
        var before = watcher.Current;
        Assert.Equal("cart", before.Lookup(Cart, Nov1)?.Workload);
        Assert.False(watcher.PollOnce()); // nothing changed

        File.WriteAllText(path, Lease("cart-v2") + Lease("cart-v2").Replace("10.244.1.7", "10.244.1.8"));
        Assert.False(watcher.PollOnce()); // change seen: wait one poll in case the file is still being written
        Assert.True(watcher.PollOnce());

        Assert.Equal("cart-v2", watcher.Current.Lookup(Cart, Nov1)?.Workload);
        Assert.Equal("cart", before.Lookup(Cart, Nov1)?.Workload); // the old index is untouched: readers mid-batch keep it
        Assert.Equal(2, watcher.Metrics.Loads);
        Assert.Equal(2, loads.Count);
        Assert.False(watcher.PollOnce());
    }

    [Fact]
    public async Task A_new_file_in_a_watched_directory_is_picked_up_by_the_running_watcher()
    {
        using var files = new InventoryTestFiles();
        files.Write("a.jsonl", Lease("cart"));
        var options = new InventoryWatcherOptions { Paths = [files.Directory], PollInterval = TimeSpan.FromMilliseconds(20) };
        var watcher = new InventoryWatcher(options);
        var enricher = new FlowEnricher(watcher);

        await watcher.StartAsync();
        try
        {
            files.Write("b.jsonl", """{"cidr":"203.0.113.0/24","kind":"external","workload":"partner"}""");
            var deadline = DateTime.UtcNow.AddSeconds(20);
            while (watcher.Current.Lookup(PackedIp.Parse("203.0.113.9"), Nov1) is null && DateTime.UtcNow < deadline)
                await Task.Delay(20);
        }
        finally
        {
            await watcher.StopAsync();
        }

        Assert.Equal("partner", watcher.Current.Lookup(PackedIp.Parse("203.0.113.9"), Nov1)?.Workload);
        var flow = new FlowPolicy.Core.Flows.FlowRecord { Start = Nov1, SrcIp = Cart, DstIp = PackedIp.Parse("203.0.113.9") };
        enricher.Enrich(ref flow);
        Assert.Equal("partner", flow.DstIdentity?.Workload);
    }

    [Fact]
    public void Options_without_paths_are_refused()
    {
        Assert.Throws<ArgumentException>(() => new InventoryWatcher(new InventoryWatcherOptions()));
    }
}

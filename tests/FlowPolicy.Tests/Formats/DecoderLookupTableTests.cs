using System.Text;
using FlowPolicy.Ingest.Formats.Internal;

namespace FlowPolicy.Tests.Formats;

/// <summary>The lookup structures behind the readers' hot paths: the per-source decode cache and the key table.</summary>
public sealed class DecoderLookupTableTests
{
    private static int Hits(Utf8KeyedCache<string> cache, IReadOnlyList<byte[]> keys)
    {
        int hits = 0;
        foreach (var key in keys)
        {
            if (cache.TryGet(key, out int slot, out var value))
            {
                Assert.Equal(Encoding.UTF8.GetString(key), value);
                hits++;
            }
            else cache.Set(slot, key, Encoding.UTF8.GetString(key));
        }
        return hits;
    }

    [Fact]
    public void Cache_grows_until_thousands_of_distinct_keys_almost_all_hit()
    {
        var cache = new Utf8KeyedCache<string>(maxSlots: 8192, maxKeyLength: 256);
        var keys = Enumerable.Range(0, 2000).Select(i => Encoding.UTF8.GetBytes($$"""{"pod":"web-{{i}}"}""")).ToList();

        for (int pass = 0; pass < 4; pass++) Hits(cache, keys);

        int hits = Hits(cache, keys);
        // Two candidate slots at a load of ~1/2 leave about 1% of keys evicting each other until the table grows again.
        Assert.True(hits >= keys.Count * 98 / 100, $"{hits} of {keys.Count} hit");
    }

    [Fact]
    public void Cache_bounded_below_the_key_count_still_returns_only_correct_values()
    {
        var cache = new Utf8KeyedCache<string>(maxSlots: 64, maxKeyLength: 256);
        var keys = Enumerable.Range(0, 1000).Select(i => Encoding.UTF8.GetBytes($"key-{i}")).ToList();

        for (int pass = 0; pass < 3; pass++) Assert.True(Hits(cache, keys) < keys.Count); // values are checked inside
    }

    [Fact]
    public void Name_table_finds_every_name_and_nothing_else()
    {
        var names = Enumerable.Range(0, 60).Select(i => new KeyValuePair<string, int>($"field_{i}", i)).ToList();
        var table = new Utf8NameTable<int>(names);

        foreach (var (name, value) in names)
        {
            Assert.True(table.TryGetValue(Encoding.UTF8.GetBytes(name), out int found));
            Assert.Equal(value, found);
        }
        Assert.False(table.TryGetValue("field_60"u8, out _));
        Assert.False(table.TryGetValue("field_"u8, out _));
        Assert.False(table.TryGetValue(""u8, out _));
    }
}

using System.Runtime.InteropServices;
using FlowPolicy.Core.Net;
using FlowPolicy.Ingest.Direction.Internal;

namespace FlowPolicy.Tests.Direction;

/// <summary>
/// The open-addressing <see cref="ListenerTable"/> against the table it replaced (two dictionaries, one per
/// generation), driven the way <c>DirectionResolver</c> drives it: the decisions only read what the table keeps, so
/// the same contents after every step mean the same decisions.
/// </summary>
public sealed class ListenerTableTests
{
    [Theory]
    [InlineData(2, 50, 1)]        // one endpoint per generation: a rotation on almost every new key
    [InlineData(3, 10, 2)]
    [InlineData(16, 40, 3)]
    [InlineData(1_000, 3_000, 4)]
    [InlineData(10_000, 4_000, 5)] // everything fits: no rotation, growth only
    [InlineData(20_000, 60_000, 6)] // grows several times past the initial slots, then rotates
    public void Random_workloads_keep_exactly_what_the_two_dictionary_table_kept(int maxEndpoints, int distinctKeys, int seed)
    {
        var random = new Random(seed);
        var keys = new EndpointKey[distinctKeys];
        for (int k = 0; k < keys.Length; k++)
        {
            // v4 and v6, a few ports per address and two protocols, so keys differ in one field only too.
            var ip = random.Next(4) == 0
                ? new PackedIp(0x2001_0db8_0000_0000UL + (ulong)random.Next(64), (ulong)random.Next(1 << 12))
                : PackedIp.FromV4(10, 0, (byte)random.Next(16), (byte)random.Next(256));
            keys[k] = new EndpointKey(ip, (ushort)random.Next(1, 40), random.Next(3) == 0 ? IpProtocols.Udp : IpProtocols.Tcp);
        }

        var table = new ListenerTable(maxEndpoints);
        var reference = new ReferenceTable(maxEndpoints);
        int steps = Math.Max(20_000, distinctKeys * 6);
        for (int step = 0; step < steps; step++)
        {
            // Skewed: some endpoints are busy (listeners), most are seen rarely (client ports).
            double u = random.NextDouble();
            var key = keys[(int)(u * u * keys.Length)];
            if (random.Next(3) == 0)
            {
                bool found = table.TryGet(key, out var stats);
                bool expectedFound = reference.TryGet(key, out var expected);
                Assert.Equal(expectedFound, found);
                AssertSame(expected, stats, step);
                continue;
            }

            ushort peer = (ushort)random.Next(1, 12);
            int vote = random.Next(4);
            ref var slot = ref table.GetOrAdd(key);
            Mutate(ref slot, peer, vote);
            ref var expectedSlot = ref reference.GetOrAdd(key);
            Mutate(ref expectedSlot, peer, vote);
            AssertSame(expectedSlot, slot, step);
            Assert.Equal(reference.Count, table.Count);
            Assert.Equal(reference.Evicted, table.Evicted);
        }

        // Every key, kept or not, reads the same at the end.
        foreach (var key in keys)
        {
            Assert.Equal(reference.TryGet(key, out var expected), table.TryGet(key, out var stats));
            AssertSame(expected, stats, steps);
        }
        Assert.True(table.Count <= maxEndpoints);
    }

    [Fact]
    public void Growth_keeps_every_endpoint_and_the_load_at_most_one_half()
    {
        var table = new ListenerTable(1_000_000);
        for (int i = 0; i < 100_000; i++)
            table.GetOrAdd(new EndpointKey(PackedIp.FromV4((uint)(0x0A00_0000 + i)), (ushort)(i % 7 + 1), IpProtocols.Tcp)).AddPeerPort((ushort)i);

        Assert.Equal(100_000, table.Count);
        Assert.True(table.Capacity >= 2 * table.Count, $"{table.Capacity} slots for {table.Count} endpoints");
        Assert.Equal(0, table.Evicted);
        for (int i = 0; i < 100_000; i++)
        {
            Assert.True(table.TryGet(new EndpointKey(PackedIp.FromV4((uint)(0x0A00_0000 + i)), (ushort)(i % 7 + 1), IpProtocols.Tcp), out var stats));
            Assert.Equal((1, (ushort)i), (stats.PeerPortCount, stats.PeerPort(0)));
        }
    }

    [Fact]
    public void An_endpoint_touched_in_the_previous_generation_survives_the_next_rotation()
    {
        var table = new ListenerTable(8); // four per generation
        var busy = Key(1);
        table.GetOrAdd(busy).ListenerVotes = 7;
        for (int i = 2; i <= 5; i++) table.GetOrAdd(Key(i)); // fills the generation: busy is previous after key 5
        table.GetOrAdd(busy).ListenerVotes++;                 // back to the current generation
        for (int i = 6; i <= 9; i++) table.GetOrAdd(Key(i));  // rotation: keys 2-4 dropped

        Assert.True(table.TryGet(busy, out var stats));
        Assert.Equal(8, stats.ListenerVotes);
        Assert.False(table.TryGet(Key(2), out _));
        Assert.Equal(3, table.Evicted);
        Assert.True(table.Count <= 8);

        static EndpointKey Key(int i) => new(PackedIp.FromV4(10, 0, 0, (byte)i), 80, IpProtocols.Tcp);
    }

    private static void Mutate(ref EndpointStats stats, ushort peer, int vote)
    {
        stats.AddPeerPort(peer);
        if (vote == 1) stats.ListenerVotes++;
        else if (vote == 2) stats.ClientVotes++;
        else if (vote == 3) stats.SynAckVotes++;
    }

    private static void AssertSame(EndpointStats expected, EndpointStats actual, int step)
    {
        var e = (expected.ListenerVotes, expected.SynAckVotes, expected.ClientVotes, expected.PeerPortCount);
        var a = (actual.ListenerVotes, actual.SynAckVotes, actual.ClientVotes, actual.PeerPortCount);
        Assert.True(e == a, $"step {step}: expected {e}, got {a}");
        for (int i = 0; i < expected.PeerPortCount; i++) Assert.Equal(expected.PeerPort(i), actual.PeerPort(i));
    }

    /// <summary>The table as it was before the open-addressing one: a dictionary per generation.</summary>
    private sealed class ReferenceTable(int maxEndpoints)
    {
        private readonly int _generationCapacity = Math.Max(1, maxEndpoints / 2);
        private Dictionary<EndpointKey, EndpointStats> _current = new();
        private Dictionary<EndpointKey, EndpointStats> _previous = new();

        public int Count => _current.Count + _previous.Count;
        public long Evicted { get; private set; }

        public ref EndpointStats GetOrAdd(in EndpointKey key)
        {
            if (_current.Count >= _generationCapacity && !_current.ContainsKey(key))
            {
                Evicted += _previous.Count;
                (_previous, _current) = (_current, _previous);
                _current.Clear();
            }
            ref var slot = ref CollectionsMarshal.GetValueRefOrAddDefault(_current, key, out bool exists);
            if (!exists && _previous.Remove(key, out var older)) slot = older;
            return ref slot;
        }

        public bool TryGet(in EndpointKey key, out EndpointStats stats) =>
            _current.TryGetValue(key, out stats) || _previous.TryGetValue(key, out stats);
    }
}

using FlowPolicy.Core.Edges;

namespace FlowPolicy.Tests.Edges;

/// <summary>The sparse hour-of-week histogram must read, add and merge exactly as the 168-slot array it replaced.</summary>
public sealed class HourOfWeekCountsTests
{
    [Theory]
    [InlineData(1, 5)]
    [InlineData(2, 40)]
    [InlineData(3, 168)]
    [InlineData(4, 400)]
    public void Random_adds_sets_and_merges_read_like_a_plain_array(int seed, int operations)
    {
        var random = new Random(seed);
        var reference = new long[Edge.HoursPerWeek];
        var counts = new HourOfWeekCounts();
        var otherReference = new long[Edge.HoursPerWeek];
        var other = new HourOfWeekCounts();
        for (int i = 0; i < operations; i++)
        {
            int hour = random.Next(Edge.HoursPerWeek);
            long flows = random.Next(4) == 0 ? 0 : random.Next(1, 1000);
            switch (random.Next(4))
            {
                case 0:
                    reference[hour] += flows;
                    counts.Add(hour, flows);
                    break;
                case 1:
                    reference[hour] = flows; // 0 clears the hour
                    counts[hour] = flows;
                    break;
                case 2:
                    reference[hour] += flows;
                    counts[hour] += flows;
                    break;
                default:
                    otherReference[hour] += flows;
                    other.Add(hour, flows);
                    break;
            }
        }
        AssertSame(reference, counts);
        AssertSame(otherReference, other);
        for (int h = 0; h < Edge.HoursPerWeek; h++) reference[h] += otherReference[h];
        counts.Add(other);
        AssertSame(reference, counts);
        AssertSame(otherReference, other); // merging reads the other histogram, never changes it
    }

    [Fact]
    public void Counts_too_large_or_negative_for_the_packed_form_are_kept_exactly()
    {
        var reference = new long[Edge.HoursPerWeek];
        var counts = new HourOfWeekCounts();
        counts.Add(3, 7);
        reference[3] = 7;
        counts.Add(100, 1L << 56);   // past the 56 bits a packed entry holds
        reference[100] = 1L << 56;
        AssertSame(reference, counts);
        counts[5] = -2;
        reference[5] = -2;
        counts.Add(3, 1);
        reference[3] += 1;
        AssertSame(reference, counts);
        var merged = new HourOfWeekCounts();
        merged.Add(167, 1);
        merged.Add(counts);
        reference[167] += 1;
        AssertSame(reference, merged);
    }

    [Fact]
    public void An_empty_histogram_is_168_zeros_and_hours_outside_the_week_are_refused()
    {
        var counts = new HourOfWeekCounts();
        Assert.Equal(Edge.HoursPerWeek, counts.Count);
        Assert.Equal(new long[Edge.HoursPerWeek], counts.ToArray());
        Assert.Equal(0, counts.NonZeroHours);
        Assert.Throws<ArgumentOutOfRangeException>(() => counts[Edge.HoursPerWeek]);
        Assert.Throws<ArgumentOutOfRangeException>(() => counts.Add(-1, 1));
    }

    private static void AssertSame(long[] expected, HourOfWeekCounts actual)
    {
        Assert.Equal(expected, actual.ToArray());
        Assert.Equal(expected, actual.ToList()); // the enumerator: what string.Join and LINQ read
        for (int h = 0; h < Edge.HoursPerWeek; h++) Assert.Equal(expected[h], actual[h]);
        Assert.Equal(expected.Count(c => c != 0), actual.NonZeroHours);
        Assert.Equal(expected.Sum(), actual.Sum());
        var summed = new long[Edge.HoursPerWeek];
        summed[0] = 5;
        actual.AddTo(summed);
        Assert.Equal(expected[0] + 5, summed[0]);
        Assert.Equal(expected.Skip(1), summed.Skip(1));
    }
}

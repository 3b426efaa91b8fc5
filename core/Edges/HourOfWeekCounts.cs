using System.Collections;

namespace FlowPolicy.Core.Edges;

/// <summary>
/// Flows per hour of the week (<see cref="Edge.HoursPerWeek"/> buckets, UTC, Monday 00:00-01:00 first). Reads like a
/// 168-slot array, but stores only the hours that have flows: most edges are seen in a few hours, and a million
/// edges with a 168-slot <c>long[]</c> each took 1.3 GiB. Each non-zero hour is one <c>long</c> (hour in the top
/// byte, count below), sorted by hour, so a fully used week costs what the array did. A count outside
/// [0, 2^56) switches the instance to a plain 168-slot array.
/// </summary>
public sealed class HourOfWeekCounts : IReadOnlyList<long>
{
    private const int HourShift = 56;
    private const long CountMask = (1L << HourShift) - 1;

    private long[]? _packed; // (hour << 56) | count, ascending hour, counts > 0
    private int _used;
    private long[]? _dense;  // only after a count left [0, 2^56)

    /// <summary>Always <see cref="Edge.HoursPerWeek"/>: the histogram reads as 168 buckets.</summary>
    public int Count => Edge.HoursPerWeek;

    /// <summary>Hours with a non-zero count.</summary>
    public int NonZeroHours
    {
        get
        {
            if (_dense is null) return _used;
            int n = 0;
            foreach (long count in _dense) if (count != 0) n++;
            return n;
        }
    }

    public long this[int hour]
    {
        get
        {
            CheckHour(hour);
            if (_dense is not null) return _dense[hour];
            int i = Find(hour);
            return i >= 0 ? _packed![i] & CountMask : 0;
        }
        set
        {
            CheckHour(hour);
            if (_dense is not null)
            {
                _dense[hour] = value;
                return;
            }
            int i = Find(hour);
            if (value == 0)
            {
                if (i >= 0) RemoveAt(i);
                return;
            }
            if (value < 0 || value > CountMask)
            {
                ToDense()[hour] = value;
                return;
            }
            long packed = ((long)hour << HourShift) | value;
            if (i >= 0) _packed![i] = packed;
            else InsertAt(~i, packed);
        }
    }

    /// <summary>Adds <paramref name="flows"/> to one hour.</summary>
    public void Add(int hour, long flows)
    {
        if (flows != 0) this[hour] = this[hour] + flows;
    }

    /// <summary>Adds every hour of <paramref name="other"/> (merging two edges' histograms).</summary>
    public void Add(HourOfWeekCounts other)
    {
        ArgumentNullException.ThrowIfNull(other);
        if (other._dense is not null)
        {
            for (int h = 0; h < Edge.HoursPerWeek; h++) Add(h, other._dense[h]);
            return;
        }
        for (int i = 0; i < other._used; i++)
        {
            long packed = other._packed![i];
            Add((int)((ulong)packed >> HourShift), packed & CountMask);
        }
    }

    /// <summary>Adds each hour's count into <paramref name="hours"/> (168 slots), touching only the non-zero hours.</summary>
    public void AddTo(Span<long> hours)
    {
        if (hours.Length < Edge.HoursPerWeek) throw new ArgumentException($"needs {Edge.HoursPerWeek} slots", nameof(hours));
        if (_dense is not null)
        {
            for (int h = 0; h < Edge.HoursPerWeek; h++) hours[h] += _dense[h];
            return;
        }
        for (int i = 0; i < _used; i++)
        {
            long packed = _packed![i];
            hours[(int)((ulong)packed >> HourShift)] += packed & CountMask;
        }
    }

    /// <summary>The 168 counts as an array (a copy).</summary>
    public long[] ToArray()
    {
        var result = new long[Edge.HoursPerWeek];
        AddTo(result);
        return result;
    }

    public IEnumerator<long> GetEnumerator()
    {
        for (int h = 0; h < Edge.HoursPerWeek; h++) yield return this[h];
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    private static void CheckHour(int hour)
    {
        if ((uint)hour >= Edge.HoursPerWeek) throw new ArgumentOutOfRangeException(nameof(hour), hour, $"an hour of the week is 0-{Edge.HoursPerWeek - 1}");
    }

    /// <summary>Index of the hour's entry, or the bitwise complement of where it would go.</summary>
    private int Find(int hour)
    {
        int lo = 0, hi = _used - 1;
        while (lo <= hi)
        {
            int mid = (lo + hi) >>> 1;
            int at = (int)((ulong)_packed![mid] >> HourShift);
            if (at == hour) return mid;
            if (at < hour) lo = mid + 1;
            else hi = mid - 1;
        }
        return ~lo;
    }

    private void InsertAt(int index, long packed)
    {
        if (_packed is null) _packed = new long[1];
        else if (_used == _packed.Length) Array.Resize(ref _packed, Math.Min(Edge.HoursPerWeek, _used * 2));
        Array.Copy(_packed, index, _packed, index + 1, _used - index);
        _packed[index] = packed;
        _used++;
    }

    private void RemoveAt(int index)
    {
        _used--;
        Array.Copy(_packed!, index + 1, _packed!, index, _used - index);
    }

    private long[] ToDense()
    {
        var dense = new long[Edge.HoursPerWeek];
        AddTo(dense);
        _dense = dense;
        _packed = null;
        _used = 0;
        return dense;
    }
}

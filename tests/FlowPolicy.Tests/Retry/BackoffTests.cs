using FlowPolicy.Core.Retry;
using Microsoft.Extensions.Time.Testing;

namespace FlowPolicy.Tests.Retry;

public sealed class BackoffTests
{
    [Fact]
    public void Without_jitter_the_delay_doubles_from_the_initial_one_up_to_the_cap()
    {
        var backoff = new Backoff(TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(5), jitter: 0);
        Assert.Equal([0.5, 1, 2, 4, 5, 5], Enumerable.Range(0, 6).Select(_ => backoff.Next().TotalSeconds));
        Assert.Equal(6, backoff.Failures);
        backoff.Reset();
        Assert.Equal(TimeSpan.FromMilliseconds(500), backoff.Next());
    }

    [Fact]
    public void Jitter_only_shortens_a_delay_and_by_at_most_its_share()
    {
        var backoff = new Backoff(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(30), jitter: 0.2, random: new Random(7));
        var delays = Enumerable.Range(1, 40).Select(n => (Ceiling: Backoff.Ceiling(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(30), n), Delay: backoff.Next())).ToList();
        Assert.All(delays, d => Assert.InRange(d.Delay, d.Ceiling * 0.8, d.Ceiling));
        Assert.True(delays.Select(d => d.Delay).Distinct().Count() > 20, "jittered delays differ, so workers failing together spread out");
    }

    [Fact]
    public void The_ceiling_never_overflows_however_many_failures()
    {
        Assert.Equal(TimeSpan.FromMinutes(10), Backoff.Ceiling(TimeSpan.FromSeconds(30), TimeSpan.FromMinutes(10), 1_000_000));
        Assert.Equal(TimeSpan.MaxValue, Backoff.Ceiling(TimeSpan.FromDays(1), TimeSpan.MaxValue, 100));
        Assert.Throws<ArgumentOutOfRangeException>(() => Backoff.Ceiling(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2), 0));
    }

    [Theory]
    [InlineData(0, 10, 0.2)]
    [InlineData(-1, 10, 0.2)]
    [InlineData(5, 4, 0.2)]
    [InlineData(1, 10, 1.5)]
    [InlineData(1, 10, -0.1)]
    public void Invalid_settings_are_refused_with_what_is_wrong(int initialSeconds, int maxSeconds, double jitter)
    {
        var e = Assert.Throws<ArgumentException>(() => new Backoff(TimeSpan.FromSeconds(initialSeconds), TimeSpan.FromSeconds(maxSeconds), jitter));
        Assert.Contains("retry", e.Message);
    }

    [Fact]
    public async Task Waiting_follows_the_injected_clock_and_stops_when_cancelled()
    {
        var time = new FakeTimeProvider();
        var backoff = new Backoff(TimeSpan.FromSeconds(10), TimeSpan.FromMinutes(1), jitter: 0);
        var wait = backoff.WaitAsync(default, time);
        time.Advance(TimeSpan.FromSeconds(9.999));
        Assert.False(wait.IsCompleted);
        time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Equal(TimeSpan.FromSeconds(10), await wait);

        using var cancel = new CancellationTokenSource();
        var second = backoff.WaitAsync(cancel.Token, time);
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => second);
    }
}

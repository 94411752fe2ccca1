using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using RecurringIntegrations.Core.Operations;
using RecurringIntegrations.Tests.Support;
using Xunit;

namespace RecurringIntegrations.Tests.Operations;

/// <summary>The one poll-until-final loop (-Wait, the folder import's wait) on a clock the test moves: exact rounds and waits.</summary>
public sealed class PollLoopTests
{
    private static readonly DateTimeOffset Start = new(2026, 1, 2, 3, 0, 0, TimeSpan.Zero);

    private static TimeSpan S(double seconds) => TimeSpan.FromSeconds(seconds);

    [Fact]
    public async Task The_first_round_comes_after_the_first_wait_then_the_waits_double_up_to_the_interval_and_stop_at_the_deadline()
    {
        var clock = new ManualClock(Start);
        var reads = new ConcurrentQueue<(string Item, TimeSpan At)>();
        var finals = new List<(string Item, string Status, TimeSpan At)>();
        var loop = new PollLoop<string, string>(clock, timeout: S(20), interval: S(5), maxConcurrency: 8, firstWait: S(0.5))
        {
            Read = (item, _) =>
            {
                reads.Enqueue((item, clock.Elapsed));
                var round = reads.Count(r => r.Item == item);
                return Task.FromResult(item == "a" && round == 3 ? "Processed" : round == 1 ? "Queued" : "InProcess");
            },
            IsFinal = status => status == "Processed",
            OnFinal = (item, status) =>
            {
                finals.Add((item, status, clock.Elapsed));
                return Task.CompletedTask;
            },
        };

        var run = loop.RunAsync(new[] { "a", "b" }, CancellationToken.None);
        var waits = new List<TimeSpan>();
        for (var i = 0; i < 7; i++)
        {
            var wait = await clock.NextTimerAsync();
            Assert.False(run.IsCompleted);
            waits.Add(wait);
            clock.Advance(wait);
        }
        var unfinished = await run;

        // 0.5, 1, 2, 4, then the interval's 5, and the last wait cut at the deadline (20 s).
        Assert.Equal(new[] { S(0.5), S(1), S(2), S(4), S(5), S(5), S(2.5) }, waits);
        Assert.Equal(new[] { S(0.5), S(1.5), S(3.5) }, reads.Where(r => r.Item == "a").Select(r => r.At));
        Assert.Equal(new[] { S(0.5), S(1.5), S(3.5), S(7.5), S(12.5), S(17.5), S(20) }, reads.Where(r => r.Item == "b").Select(r => r.At));
        Assert.Equal(new[] { ("a", "Processed", S(3.5)) }, finals);
        Assert.Equal(new[] { ("b", "InProcess") }, unfinished);
    }

    [Fact]
    public async Task A_first_wait_longer_than_the_interval_is_the_interval()
    {
        var clock = new ManualClock(Start);
        var reads = new List<TimeSpan>();
        var loop = new PollLoop<int, string>(clock, S(10), S(2), 8, firstWait: S(30))
        {
            Read = (_, _) =>
            {
                reads.Add(clock.Elapsed);
                return Task.FromResult("Queued");
            },
            IsFinal = _ => false,
        };

        var run = loop.RunAsync(new[] { 1 }, CancellationToken.None);
        while (!run.IsCompleted) clock.Advance(await clock.NextTimerAsync());
        await run;

        Assert.Equal(new[] { S(2), S(4), S(6), S(8), S(10) }, reads);
    }

    [Fact]
    public async Task A_failed_read_is_reported_once_with_the_status_before_it_and_not_read_again()
    {
        var clock = new ManualClock(Start);
        var reads = 0;
        var failed = new List<(string Item, string? Last, string Error)>();
        var loop = new PollLoop<string, string>(clock, S(60), S(5), 8, S(0.5))
        {
            Read = (_, _) => ++reads == 1 ? Task.FromResult("Queued") : throw new InvalidOperationException("gone"),
            IsFinal = status => status == "Processed",
            OnFailed = (item, last, ex) => failed.Add((item, last, ex.Message)),
        };

        var run = loop.RunAsync(new[] { "a" }, CancellationToken.None);
        clock.Advance(await clock.NextTimerAsync());
        clock.Advance(await clock.NextTimerAsync());

        Assert.Empty(await run);
        Assert.Equal(new[] { ("a", (string?)"Queued", "gone") }, failed);
        Assert.Equal(2, reads);
        Assert.Equal(S(1.5), clock.Elapsed);
    }

    [Fact]
    public async Task Items_final_in_the_first_round_wait_only_the_first_wait()
    {
        var clock = new ManualClock(Start);
        var loop = new PollLoop<int, string>(clock, S(60), S(5), 1, S(0.5))
        {
            Read = (_, _) => Task.FromResult("Processed"),
            IsFinal = _ => true,
        };

        var run = loop.RunAsync(new[] { 1, 2, 3 }, CancellationToken.None);
        clock.Advance(await clock.NextTimerAsync());

        Assert.Empty(await run);
        Assert.Equal(S(0.5), clock.Elapsed);
    }

    [Fact]
    public async Task A_zero_timeout_reads_once_and_returns_what_is_unfinished()
    {
        var clock = new ManualClock(Start);
        var loop = new PollLoop<int, string>(clock, TimeSpan.Zero, S(5), 8, S(0.5)) { Read = (_, _) => Task.FromResult("Queued"), IsFinal = _ => false };

        Assert.Equal(new[] { (1, "Queued") }, await loop.RunAsync(new[] { 1 }, CancellationToken.None));
        Assert.Equal(TimeSpan.Zero, clock.Elapsed);
    }

    [Fact]
    public async Task Cancelling_ends_the_wait_at_once()
    {
        var clock = new ManualClock(Start);
        using var cancel = new CancellationTokenSource();
        var loop = new PollLoop<int, string>(clock, S(600), S(5), 8, S(0.5)) { Read = (_, _) => Task.FromResult("Queued"), IsFinal = _ => false };

        var run = loop.RunAsync(new[] { 1 }, cancel.Token);
        await clock.NextTimerAsync();
        cancel.Cancel();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run);
        Assert.Equal(TimeSpan.Zero, clock.Elapsed);
    }
}

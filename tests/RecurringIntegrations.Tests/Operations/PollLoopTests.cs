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
    public async Task Polls_every_interval_reports_each_item_when_final_and_stops_at_the_deadline_with_the_last_statuses()
    {
        var clock = new ManualClock(Start);
        var reads = new ConcurrentQueue<(string Item, TimeSpan At)>();
        var finals = new List<(string Item, string Status, TimeSpan At)>();
        var loop = new PollLoop<string, string>(clock, timeout: S(12), interval: S(5), maxConcurrency: 8)
        {
            Read = (item, _) =>
            {
                reads.Enqueue((item, clock.Elapsed));
                var round = reads.Count(r => r.Item == item);
                return Task.FromResult(item == "a" && round == 2 ? "Processed" : round == 1 ? "Queued" : "InProcess");
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
        for (var i = 0; i < 3; i++)
        {
            var wait = await clock.NextTimerAsync();
            Assert.False(run.IsCompleted);
            waits.Add(wait);
            clock.Advance(wait);
        }
        var unfinished = await run;

        Assert.Equal(new[] { S(5), S(5), S(2) }, waits);
        Assert.Equal(new[] { S(0), S(5) }, reads.Where(r => r.Item == "a").Select(r => r.At));
        Assert.Equal(new[] { S(0), S(5), S(10), S(12) }, reads.Where(r => r.Item == "b").Select(r => r.At));
        Assert.Equal(new[] { ("a", "Processed", S(5)) }, finals);
        Assert.Equal(new[] { ("b", "InProcess") }, unfinished);
    }

    [Fact]
    public async Task A_failed_read_is_reported_once_with_the_status_before_it_and_not_read_again()
    {
        var clock = new ManualClock(Start);
        var reads = 0;
        var failed = new List<(string Item, string? Last, string Error)>();
        var loop = new PollLoop<string, string>(clock, S(60), S(5), 8)
        {
            Read = (_, _) => ++reads == 1 ? Task.FromResult("Queued") : throw new InvalidOperationException("gone"),
            IsFinal = status => status == "Processed",
            OnFailed = (item, last, ex) => failed.Add((item, last, ex.Message)),
        };

        var run = loop.RunAsync(new[] { "a" }, CancellationToken.None);
        clock.Advance(await clock.NextTimerAsync());

        Assert.Empty(await run);
        Assert.Equal(new[] { ("a", (string?)"Queued", "gone") }, failed);
        Assert.Equal(2, reads);
        Assert.Equal(S(5), clock.Elapsed);
    }

    [Fact]
    public async Task Items_final_in_the_first_round_never_wait()
    {
        var clock = new ManualClock(Start);
        var loop = new PollLoop<int, string>(clock, S(60), S(5), 1)
        {
            Read = (_, _) => Task.FromResult("Processed"),
            IsFinal = _ => true,
        };

        Assert.Empty(await loop.RunAsync(new[] { 1, 2, 3 }, CancellationToken.None));
        Assert.Equal(TimeSpan.Zero, clock.Elapsed);
    }

    [Fact]
    public async Task A_zero_timeout_reads_once_and_returns_what_is_unfinished()
    {
        var clock = new ManualClock(Start);
        var loop = new PollLoop<int, string>(clock, TimeSpan.Zero, S(5), 8) { Read = (_, _) => Task.FromResult("Queued"), IsFinal = _ => false };

        Assert.Equal(new[] { (1, "Queued") }, await loop.RunAsync(new[] { 1 }, CancellationToken.None));
        Assert.Equal(TimeSpan.Zero, clock.Elapsed);
    }

    [Fact]
    public async Task Cancelling_ends_the_wait_at_once()
    {
        var clock = new ManualClock(Start);
        using var cancel = new CancellationTokenSource();
        var loop = new PollLoop<int, string>(clock, S(600), S(5), 8) { Read = (_, _) => Task.FromResult("Queued"), IsFinal = _ => false };

        var run = loop.RunAsync(new[] { 1 }, cancel.Token);
        await clock.NextTimerAsync();
        cancel.Cancel();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run);
        Assert.Equal(TimeSpan.Zero, clock.Elapsed);
    }
}

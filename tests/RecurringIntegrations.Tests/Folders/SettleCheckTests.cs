using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using RecurringIntegrations.Core.Errors;
using RecurringIntegrations.Core.Folders;
using RecurringIntegrations.Tests.Support;
using Xunit;

namespace RecurringIntegrations.Tests.Folders;

/// <summary>-SettleSeconds on a clock the test moves: which files go, which wait, and exactly how long the check waits.</summary>
public sealed class SettleCheckTests
{
    private static readonly DateTimeOffset Start = new(2026, 1, 2, 3, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan Settle = TimeSpan.FromSeconds(5);

    private readonly string _inbox = Directory.CreateTempSubdirectory().FullName;
    private readonly List<string> _warnings = new();
    private readonly List<(object Target, string ErrorId)> _errors = new();

    private FileInfo File(string name, string content, TimeSpan writtenBeforeStart)
    {
        var path = Path.Combine(_inbox, name);
        System.IO.File.WriteAllText(path, content);
        System.IO.File.SetLastWriteTimeUtc(path, (Start - writtenBeforeStart).UtcDateTime);
        return new FileInfo(path);
    }

    private SettleCheck Check(TimeProvider clock, TimeSpan settle) =>
        new(settle, clock, _warnings.Add, (target, error) => _errors.Add((target, error.ErrorId)));

    [Fact]
    public async Task Files_written_within_the_settle_time_or_changed_over_it_wait_and_the_rest_go_after_exactly_one_settle_time()
    {
        var clock = new ManualClock(Start);
        var files = new List<FileInfo>
        {
            File("old.csv", "ID\nA\n", TimeSpan.FromMinutes(1)),
            File("edge.csv", "ID\nE\n", Settle),
            File("fresh.csv", "ID\nF\n", TimeSpan.FromSeconds(4.9)),
            File("growing.csv", "ID\nG\n", TimeSpan.FromMinutes(1)),
            File("touched.csv", "ID\nT\n", TimeSpan.FromMinutes(1)),
            File("gone.csv", "ID\nX\n", TimeSpan.FromMinutes(1)),
            File("empty.csv", "", TimeSpan.FromMinutes(1)),
        };

        var check = Check(clock, Settle).SettledAsync(files, CancellationToken.None);
        Assert.Equal(Settle, await clock.NextTimerAsync());
        Assert.False(check.IsCompleted);
        System.IO.File.AppendAllText(Path.Combine(_inbox, "growing.csv"), "H\n");
        System.IO.File.SetLastWriteTimeUtc(Path.Combine(_inbox, "touched.csv"), Start.UtcDateTime);
        System.IO.File.Delete(Path.Combine(_inbox, "gone.csv"));
        clock.Advance(Settle);
        var settled = await check;

        Assert.Equal(new[] { "old.csv", "edge.csv" }, settled.Select(f => f.Name));
        Assert.Equal(new[]
        {
            "'fresh.csv' was written to in the last 5 s: left for a later run.",
            "'growing.csv' is still being written (its size or time changed): left for a later run.",
            "'touched.csv' is still being written (its size or time changed): left for a later run.",
            "'gone.csv' vanished from the inbox before it was sent: skipped.",
        }, _warnings);
        Assert.Equal(new[] { ((object)Path.Combine(_inbox, "empty.csv"), "EnqueueFileEmpty") }, _errors);
    }

    [Fact]
    public async Task A_settle_time_of_zero_takes_every_readable_file_without_waiting()
    {
        var clock = new ManualClock(Start);
        var files = new List<FileInfo> { File("now.csv", "ID\nN\n", TimeSpan.Zero), File("old.csv", "ID\nO\n", TimeSpan.FromHours(1)) };

        var settled = await Check(clock, TimeSpan.Zero).SettledAsync(files, CancellationToken.None);

        Assert.Equal(new[] { "now.csv", "old.csv" }, settled.Select(f => f.Name));
        Assert.Empty(_warnings);
        Assert.Equal(TimeSpan.Zero, clock.Elapsed);
    }

    [Fact]
    public async Task When_every_file_is_too_fresh_nothing_waits()
    {
        var clock = new ManualClock(Start);
        var settled = await Check(clock, Settle).SettledAsync(new List<FileInfo> { File("fresh.csv", "ID\nF\n", TimeSpan.FromSeconds(1)) }, CancellationToken.None);

        Assert.Empty(settled);
        Assert.Single(_warnings);
        Assert.Equal(TimeSpan.Zero, clock.Elapsed);
    }
}

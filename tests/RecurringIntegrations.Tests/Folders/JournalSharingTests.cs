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

/// <summary>
/// Issue 18 item 10, with Windows' sharing violations injected: a scan touching journal.csv.lock is waited out on the
/// session's clock and is not FolderBusy; Excel holding journal.csv is named after a brief wait. And a reader that does not
/// share deleting (Get-Content -Wait, a backup) refusing the month's rename: the run goes on with the same journal.
/// </summary>
public sealed class JournalSharingTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("ri-journal-").FullName;
    private readonly ManualClock _clock = new(DateTimeOffset.Parse("2026-01-01T00:00:00Z"));

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private static IOException SharingViolation() =>
        new("The process cannot access the file because it is being used by another process.", OperatingSystem.IsWindows() ? unchecked((int)0x80070020) : 11);

    /// <summary>Opens for real, after <paramref name="refusals"/> sharing violations for files whose name ends with <paramref name="held"/>.</summary>
    private static Func<string, FileShare, FileStream> HeldFor(string held, int refusals, List<string> tries) => (path, share) =>
    {
        lock (tries) tries.Add(Path.GetFileName(path));
        if (path.EndsWith(held, StringComparison.Ordinal) && refusals-- > 0) throw SharingViolation();
        return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, share);
    };

    private async Task<List<TimeSpan>> WaitsOf(Task open)
    {
        var waits = new List<TimeSpan>();
        while (!open.IsCompleted)
        {
            var next = Task.WhenAny(open, _clock.NextTimerAsync());
            if (await next == open) break;
            var wait = await (Task<TimeSpan>)(await next);
            waits.Add(wait);
            _clock.Advance(wait);
        }
        return waits;
    }

    [Fact]
    public async Task A_scan_holding_the_lock_file_for_moments_is_waited_out_and_is_not_FolderBusy()
    {
        var path = Path.Combine(_folder, "journal.csv");
        var tries = new List<string>();
        var open = Task.Run(() => FolderJournal.Open(path, _clock, HeldFor(".lock", 2, tries), File.Move, CancellationToken.None));

        var waits = await WaitsOf(open);

        using (await open) { }
        Assert.Equal(new[] { TimeSpan.FromMilliseconds(250), TimeSpan.FromMilliseconds(500) }, waits);
        Assert.Equal(new[] { "journal.csv.lock", "journal.csv.lock", "journal.csv.lock", "journal.csv" }, tries);
    }

    [Fact]
    public async Task A_lock_still_held_after_the_waits_is_another_run()
    {
        var path = Path.Combine(_folder, "journal.csv");
        var open = Task.Run(() => FolderJournal.Open(path, _clock, HeldFor(".lock", int.MaxValue, new List<string>()), File.Move, CancellationToken.None));

        var waits = await WaitsOf(open);

        Assert.Equal(FolderJournal.InUseWaits, waits);
        Assert.Equal("FolderBusy", (await Assert.ThrowsAsync<D365Exception>(() => open)).ErrorId);
    }

    [Fact]
    public async Task Excel_holding_the_journal_is_named_after_a_brief_wait_and_the_lock_is_released()
    {
        var path = Path.Combine(_folder, "journal.csv");
        var open = Task.Run(() => FolderJournal.Open(path, _clock, HeldFor("journal.csv", int.MaxValue, new List<string>()), File.Move, CancellationToken.None));

        var waits = await WaitsOf(open);

        var error = await Assert.ThrowsAsync<D365Exception>(() => open);
        Assert.Equal(FolderJournal.InUseWaits, waits);
        Assert.Equal("JournalInUse", error.ErrorId);
        Assert.Contains(path, error.Message);
        Assert.Contains("Excel", error.Message);
        Assert.Contains("Import-Csv", error.RecommendedAction);
        using (FolderJournal.Open(path)) { }
    }

    [Fact]
    public async Task Excel_closing_the_journal_during_the_wait_lets_the_run_go_on()
    {
        var path = Path.Combine(_folder, "journal.csv");
        var open = Task.Run(() => FolderJournal.Open(path, _clock, HeldFor("journal.csv", 1, new List<string>()), File.Move, CancellationToken.None));

        Assert.Equal(new[] { TimeSpan.FromMilliseconds(250) }, await WaitsOf(open));
        using var journal = await open;
        Assert.Empty(journal.Entries);
    }

    private static Exception RenameRefused(string kind) => kind == "sharing"
        ? new IOException("The process cannot access the file because it is being used by another process.", unchecked((int)0x80070020))
        : new UnauthorizedAccessException("Access to the path is denied.");

    private static FolderJournal OpenRun(string path, Action<string, string> move) =>
        FolderJournal.Open(path, TimeProvider.System, (file, share) => new FileStream(file, FileMode.OpenOrCreate, FileAccess.ReadWrite, share), move,
            CancellationToken.None, JournalStateTests.Unsettled);

    [Theory]
    [InlineData("sharing", true)]
    [InlineData("sharing", false)]
    [InlineData("denied", true)]
    [InlineData("denied", false)]
    public void A_reader_refusing_the_month_s_rename_keeps_the_same_journal_whole_and_a_later_run_sets_it_aside(string kind, bool checkpoint)
    {
        var path = Path.Combine(_folder, "journal.csv");
        JournalStateTests.WriteJournalOf(path, new DateTimeOffset(2025, 3, 10, 8, 0, 0, DateTimeOffset.Now.Offset),
            ("Sent", "a.csv"), ("Processed", "a.csv"), ("Sent", "b.csv"));
        var before = File.ReadAllText(path);
        var renames = new List<(string From, string To)>();
        void Refused(string from, string to)
        {
            renames.Add((Path.GetFileName(from), Path.GetFileName(to)));
            throw RenameRefused(kind);
        }

        // Two runs while the reader holds the journal: each goes on with it (without a checkpoint, a run that died after its line).
        var lengths = new List<long>();
        foreach (var (file, unsettled) in new[] { ("c.csv", new[] { "b.csv" }), ("d.csv", new[] { "b.csv", "c.csv" }) })
        {
            using (var journal = OpenRun(path, Refused))
            {
                Assert.Equal(unsettled, journal.Entries.Select(e => e.File));
                journal.Append(new JournalEntry { Event = JournalEvent.Sent, File = file });
                if (checkpoint) journal.Checkpoint();
            }
            lengths.Add(new FileInfo(path).Length);
        }

        Assert.Equal(new[] { ("journal.csv", "journal.2025-03.csv"), ("journal.csv", "journal.2025-03.csv") }, renames);
        var kept = File.ReadAllText(path);
        // The month's lines as they were, then the runs' lines, under the one header: nothing lost, nothing written twice.
        Assert.StartsWith(before, kept, StringComparison.Ordinal);
        Assert.Single(kept.Split("\r\n"), line => line.StartsWith("\"Date\"", StringComparison.Ordinal));
        Assert.Equal(new[] { "a.csv", "a.csv", "b.csv", "c.csv", "d.csv" }, FolderJournal.Read(path).Select(e => e.File));
        Assert.Equal(new[] { "journal.csv", "journal.csv.lock", "journal.csv.state" }, Files());
        // The state is of this journal (it names its first line) and reaches to its end, or, without a checkpoint, to where
        // the second run found it: that run's line is read from the journal on top of it.
        var state = FolderJournal.SplitCsv(File.ReadAllLines(FolderJournal.StatePathFor(path))[1]);
        Assert.Equal(File.ReadAllLines(path)[1], state[2]);
        Assert.Equal(checkpoint ? (lengths[1], 6) : (lengths[0], 5), (long.Parse(state[0]), int.Parse(state[1])));

        // The reader has gone: the next run sets the month's journal aside whole, carrying over what is not settled, once.
        using (var journal = OpenRun(path, File.Move))
            Assert.Equal(new[] { "b.csv", "c.csv", "d.csv" }, journal.Entries.Select(e => e.File));
        Assert.Equal(kept, File.ReadAllText(Path.Combine(_folder, "journal.2025-03.csv")));
        Assert.Empty(FolderJournal.Read(path));
        Assert.Equal(new[] { "journal.2025-03.csv", "journal.csv", "journal.csv.lock", "journal.csv.state" }, Files());
        using (var journal = OpenRun(path, Refused))
        {
            Assert.Equal(new[] { "b.csv", "c.csv", "d.csv" }, journal.Entries.Select(e => e.File));
            journal.Append(new JournalEntry { Event = JournalEvent.Processed, File = "b.csv" });
            journal.Checkpoint();
        }
        Assert.Equal(2, renames.Count);
        using (var journal = OpenRun(path, Refused))
            Assert.Equal(new[] { "c.csv", "d.csv" }, journal.Entries.Select(e => e.File));
    }

    private string[] Files() => Directory.GetFiles(_folder).Select(Path.GetFileName).OrderBy(n => n, StringComparer.Ordinal).ToArray()!;
}

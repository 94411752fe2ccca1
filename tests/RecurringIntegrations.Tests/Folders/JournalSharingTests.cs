using System;
using System.Collections.Generic;
using System.IO;
using System.Threading;
using System.Threading.Tasks;
using RecurringIntegrations.Core.Errors;
using RecurringIntegrations.Core.Folders;
using RecurringIntegrations.Tests.Support;
using Xunit;

namespace RecurringIntegrations.Tests.Folders;

/// <summary>
/// Issue 18 item 10, with Windows' sharing violations injected: a scan touching journal.csv.lock is waited out on the
/// session's clock and is not FolderBusy; Excel holding journal.csv is named after a brief wait.
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
        var open = Task.Run(() => FolderJournal.Open(path, _clock, HeldFor(".lock", 2, tries), CancellationToken.None));

        var waits = await WaitsOf(open);

        using (await open) { }
        Assert.Equal(new[] { TimeSpan.FromMilliseconds(250), TimeSpan.FromMilliseconds(500) }, waits);
        Assert.Equal(new[] { "journal.csv.lock", "journal.csv.lock", "journal.csv.lock", "journal.csv" }, tries);
    }

    [Fact]
    public async Task A_lock_still_held_after_the_waits_is_another_run()
    {
        var path = Path.Combine(_folder, "journal.csv");
        var open = Task.Run(() => FolderJournal.Open(path, _clock, HeldFor(".lock", int.MaxValue, new List<string>()), CancellationToken.None));

        var waits = await WaitsOf(open);

        Assert.Equal(FolderJournal.InUseWaits, waits);
        Assert.Equal("FolderBusy", (await Assert.ThrowsAsync<D365Exception>(() => open)).ErrorId);
    }

    [Fact]
    public async Task Excel_holding_the_journal_is_named_after_a_brief_wait_and_the_lock_is_released()
    {
        var path = Path.Combine(_folder, "journal.csv");
        var open = Task.Run(() => FolderJournal.Open(path, _clock, HeldFor("journal.csv", int.MaxValue, new List<string>()), CancellationToken.None));

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
        var open = Task.Run(() => FolderJournal.Open(path, _clock, HeldFor("journal.csv", 1, new List<string>()), CancellationToken.None));

        Assert.Equal(new[] { TimeSpan.FromMilliseconds(250) }, await WaitsOf(open));
        using var journal = await open;
        Assert.Empty(journal.Entries);
    }
}

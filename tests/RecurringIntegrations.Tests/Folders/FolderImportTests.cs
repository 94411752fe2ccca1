using System;
using System.IO;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using RecurringIntegrations.Core.Model;
using RecurringIntegrations.Core.Folders;
using RecurringIntegrations.Emulator;
using RecurringIntegrations.Tests.Support;
using Xunit;
using RecurringIntegrations.Core.Errors;

namespace RecurringIntegrations.Tests.Folders;

public sealed class FolderImportTests
{
    private static readonly CancellationToken None = CancellationToken.None;

    private static FolderImport Import(Emulated env, string inbox, Guid? activity = null) =>
        new(env.Session, env.Client, activity ?? WellKnown.ImportActivity, inbox)
        {
            EntityName = "Customer groups",
            Settle = TimeSpan.Zero,
            Timeout = TimeSpan.FromSeconds(20),
            PollInterval = TimeSpan.FromMilliseconds(50),
        };

    private static string Inbox(Emulated env, params (string Name, string Content)[] files)
    {
        var inbox = Path.Combine(env.Folder, "inbox");
        Directory.CreateDirectory(inbox);
        foreach (var (name, content) in files) File.WriteAllText(Path.Combine(inbox, name), content);
        return inbox;
    }

    [Fact]
    public async Task Sorts_files_into_processed_and_failed_with_the_errors_beside_the_failed_one_and_journals_each_step()
    {
        await using var env = await Emulated.StartAsync();
        var inbox = Inbox(env, ("a.csv", "ID\nA\n"), ("b.csv", "ID\nEMULATOR-ERROR: group B is too long\n"));
        var recorder = new Recorder<FolderImportResult>();

        await Import(env, inbox).RunAsync(recorder.Callbacks(), None);

        Assert.Empty(recorder.Errors);
        var rows = recorder.Results.OrderBy(r => r.FileName).ToList();
        Assert.Equal(new[] { FolderImportOutcome.Processed, FolderImportOutcome.Failed }, rows.Select(r => r.Outcome));
        Assert.Equal(new[] { "Processed", "ProcessedWithErrors" }, rows.Select(r => r.Status));
        Assert.Equal(Path.Combine(inbox, "processed", "a.csv"), rows[0].Path);
        Assert.Equal(1, rows[1].ErrorCount);
        Assert.True(File.Exists(Path.Combine(inbox, "processed", "a.csv")));
        Assert.Contains("group B is too long", File.ReadAllText(Path.Combine(inbox, "failed", "b.csv.error.txt")));
        Assert.Equal(rows.Select(r => r.MessageId!.Value).OrderBy(i => i), env.Emulator.State.Enqueued.Select(m => m.MessageId).OrderBy(i => i));
        var journal = FolderJournal.Read(Path.Combine(inbox, "journal.csv"));
        Assert.Equal(new[] { JournalEvent.Sending, JournalEvent.Sent, JournalEvent.Processed }, journal.Where(e => e.File == "a.csv").Select(e => e.Event));
        Assert.Equal(new[] { JournalEvent.Sending, JournalEvent.Sent, JournalEvent.Failed }, journal.Where(e => e.File == "b.csv").Select(e => e.Event));
    }

    [Fact]
    public async Task A_file_not_finished_in_time_waits_in_pending_and_the_next_run_settles_it_without_sending_it_again()
    {
        var serviceClock = new ManualClock(DateTimeOffset.UtcNow);
        await using var env = await Emulated.StartAsync(o => { o.ProcessingDelay = TimeSpan.FromMilliseconds(400); o.Time = serviceClock; });
        var inbox = Inbox(env, ("slow.csv", "ID\nS\n"));
        var first = new Recorder<FolderImportResult>();
        var import = Import(env, inbox);
        import.Timeout = TimeSpan.Zero;
        await import.RunAsync(first.Callbacks(), None);
        Assert.Equal(FolderImportOutcome.Pending, Assert.Single(first.Results).Outcome);
        Assert.True(File.Exists(Path.Combine(inbox, "pending", "slow.csv")));

        // A new file of the same name waits until the first one is settled.
        File.WriteAllText(Path.Combine(inbox, "slow.csv"), "ID\nS2\n");
        serviceClock.Advance(TimeSpan.FromMilliseconds(900));
        var second = new Recorder<FolderImportResult>();
        await Import(env, inbox).RunAsync(second.Callbacks(), None);

        var row = Assert.Single(second.Results);
        Assert.Equal(FolderImportOutcome.Processed, row.Outcome);
        Assert.Equal(Assert.Single(first.Results).MessageId, row.MessageId);
        Assert.Single(env.Emulator.State.Enqueued);
        Assert.Contains(second.Warnings, w => w.Contains("slow.csv") && w.Contains("pending"));
        Assert.True(File.Exists(Path.Combine(inbox, "slow.csv")));
    }

    [Fact]
    public async Task A_file_whose_upload_answer_was_lost_goes_to_unconfirmed_and_is_never_sent_again()
    {
        await using var env = await Emulated.StartAsync();
        env.Emulator.Faults.Add(new FaultRule { PathContains = "/api/connector/enqueue", Kind = FaultKind.ResetAfterBody });
        var inbox = Inbox(env, ("lost.csv", "ID\nL\n"));
        var recorder = new Recorder<FolderImportResult>();

        await Import(env, inbox).RunAsync(recorder.Callbacks(), None);
        await Import(env, inbox).RunAsync(new Recorder<FolderImportResult>().Callbacks(), None);

        Assert.Equal(FolderImportOutcome.Unconfirmed, Assert.Single(recorder.Results).Outcome);
        var (_, error) = Assert.Single(recorder.Errors);
        Assert.Equal("EnqueueOutcomeUnknown", error.ErrorId);
        Assert.Contains("message history", error.Message);
        Assert.True(File.Exists(Path.Combine(inbox, "unconfirmed", "lost.csv")));
        Assert.Single(env.Emulator.State.Enqueued);
    }

    [Fact]
    public async Task A_file_the_service_refuses_goes_back_to_the_inbox_with_the_error()
    {
        await using var env = await Emulated.StartAsync();
        var inbox = Inbox(env, ("refused.csv", "ID\nR\n"));
        var recorder = new Recorder<FolderImportResult>();

        await Import(env, inbox, Guid.NewGuid()).RunAsync(recorder.Callbacks(), None);

        Assert.Empty(recorder.Results);
        Assert.Single(recorder.Errors);
        Assert.True(File.Exists(Path.Combine(inbox, "refused.csv")));
        Assert.Equal(JournalEvent.Returned, FolderJournal.Read(Path.Combine(inbox, "journal.csv")).Last().Event);
    }

    [Fact]
    public async Task A_run_settles_what_a_killed_run_left_in_sending_by_the_journal()
    {
        await using var env = await Emulated.StartAsync();
        var inbox = Inbox(env);
        var sent = await env.Client.EnqueueAsync(WellKnown.ImportActivity, env.WriteFile("had-id.csv", "ID\nH\n"), "Customer groups", null, "had-id.csv", None);
        Directory.CreateDirectory(Path.Combine(inbox, "sending"));
        File.WriteAllText(Path.Combine(inbox, "sending", "had-id.csv"), "ID\nH\n");
        File.WriteAllText(Path.Combine(inbox, "sending", "no-id.csv"), "ID\nN\n");
        using (var journal = FolderJournal.Open(Path.Combine(inbox, "journal.csv")))
        {
            journal.Append(new JournalEntry { Event = JournalEvent.Sending, File = "had-id.csv", Path = Path.Combine(inbox, "sending", "had-id.csv") });
            journal.Append(new JournalEntry { Event = JournalEvent.Sending, File = "no-id.csv", Path = Path.Combine(inbox, "sending", "no-id.csv") });
            journal.Append(new JournalEntry { Event = JournalEvent.Sent, File = "had-id.csv", MessageId = sent });
        }
        var recorder = new Recorder<FolderImportResult>();

        await Import(env, inbox).RunAsync(recorder.Callbacks(), None);

        var rows = recorder.Results.ToDictionary(r => r.FileName);
        Assert.Equal(FolderImportOutcome.Processed, rows["had-id.csv"].Outcome);
        Assert.Equal(sent, rows["had-id.csv"].MessageId);
        Assert.Equal(FolderImportOutcome.Unconfirmed, rows["no-id.csv"].Outcome);
        Assert.Single(env.Emulator.State.Enqueued);
        Assert.Empty(Directory.GetFiles(Path.Combine(inbox, "sending")));
    }

    [Fact]
    public async Task A_journal_line_cut_short_by_a_crash_is_dropped_and_the_journal_stays_readable()
    {
        await using var env = await Emulated.StartAsync();
        var inbox = Inbox(env, ("a.csv", "ID\nA\n"));
        var journalPath = Path.Combine(inbox, "journal.csv");
        using (var journal = FolderJournal.Open(journalPath)) journal.Append(new JournalEntry { Event = JournalEvent.Skipped, File = "old.csv", Detail = "before" });
        File.AppendAllText(journalPath, "\"2026-01-01T00:00:00.000+00:00\",\"Send");

        await Import(env, inbox).RunAsync(new Recorder<FolderImportResult>().Callbacks(), None);

        var entries = FolderJournal.Read(journalPath);
        Assert.Equal(new[] { JournalEvent.Skipped, JournalEvent.Sending, JournalEvent.Sent, JournalEvent.Processed }, entries.Select(e => e.Event));
    }

    [Fact]
    public async Task A_file_still_being_written_is_left_for_a_later_run()
    {
        await using var env = await Emulated.StartAsync();
        var inbox = Inbox(env, ("growing.csv", "ID\n"), ("fresh.csv", "ID\nF\n"));
        File.SetLastWriteTimeUtc(Path.Combine(inbox, "growing.csv"), DateTime.UtcNow.AddMinutes(-1));
        var import = Import(env, inbox);
        import.Settle = TimeSpan.FromSeconds(1);
        var recorder = new Recorder<FolderImportResult>();

        var run = import.RunAsync(recorder.Callbacks(), None);
        await Task.Delay(300);
        File.AppendAllText(Path.Combine(inbox, "growing.csv"), "G\n");
        await run;

        Assert.Empty(recorder.Results);
        Assert.Empty(env.Emulator.State.Enqueued);
        Assert.Contains(recorder.Warnings, w => w.Contains("growing.csv") && w.Contains("still being written"));
        Assert.Contains(recorder.Warnings, w => w.Contains("fresh.csv") && w.Contains("written to in the last"));
        Assert.True(File.Exists(Path.Combine(inbox, "growing.csv")) && File.Exists(Path.Combine(inbox, "fresh.csv")));
    }

    [Fact]
    public async Task A_file_that_vanishes_before_it_is_sent_is_skipped_with_a_warning()
    {
        await using var env = await Emulated.StartAsync();
        var inbox = Inbox(env, ("gone.csv", "ID\nG\n"), ("kept.csv", "ID\nK\n"));
        var recorder = new Recorder<FolderImportResult>();

        await Import(env, inbox).RunAsync(recorder.Callbacks(target =>
        {
            if (target.EndsWith("gone.csv")) File.Delete(target);
            return true;
        }), None);

        Assert.Equal("kept.csv", Assert.Single(recorder.Results).FileName);
        Assert.Contains(recorder.Warnings, w => w.Contains("gone.csv") && w.Contains("vanished"));
        Assert.Equal(JournalEvent.Skipped, FolderJournal.Read(Path.Combine(inbox, "journal.csv")).Last(e => e.File == "gone.csv").Event);
    }

    [Fact]
    public async Task A_second_file_of_the_same_name_in_processed_is_kept_under_a_free_name()
    {
        await using var env = await Emulated.StartAsync();
        var inbox = Inbox(env, ("daily.csv", "ID\nNEW\n"));
        Directory.CreateDirectory(Path.Combine(inbox, "processed"));
        File.WriteAllText(Path.Combine(inbox, "processed", "daily.csv"), "ID\nOLD\n");
        var recorder = new Recorder<FolderImportResult>();

        await Import(env, inbox).RunAsync(recorder.Callbacks(), None);

        Assert.Equal(Path.Combine(inbox, "processed", "daily (2).csv"), Assert.Single(recorder.Results).Path);
        Assert.Equal("ID\nOLD\n", File.ReadAllText(Path.Combine(inbox, "processed", "daily.csv")));
        Assert.Equal("ID\nNEW\n", File.ReadAllText(Path.Combine(inbox, "processed", "daily (2).csv")));
        Assert.Contains(recorder.Warnings, w => w.Contains("daily (2).csv"));
    }

    [Fact]
    public async Task Bad_inboxes_fail_with_a_clear_error_and_send_nothing()
    {
        await using var env = await Emulated.StartAsync();
        var missing = await Assert.ThrowsAsync<D365Exception>(() => Import(env, Path.Combine(env.Folder, "nope")).RunAsync(new Recorder<FolderImportResult>().Callbacks(), None));
        Assert.Equal(("FolderNotFound", D365ErrorCategory.ObjectNotFound), (missing.ErrorId, missing.Category));

        var file = env.WriteFile("file.csv", "ID\n");
        var notFolder = await Assert.ThrowsAsync<D365Exception>(() => Import(env, file).RunAsync(new Recorder<FolderImportResult>().Callbacks(), None));
        Assert.Equal(("FolderPathIsFile", D365ErrorCategory.InvalidArgument), (notFolder.ErrorId, notFolder.Category));

        var inbox = Inbox(env, ("a.csv", "ID\nA\n"));
        File.WriteAllText(Path.Combine(inbox, "processed"), "a file where a folder belongs");
        var blocked = await Assert.ThrowsAsync<D365Exception>(() => Import(env, inbox).RunAsync(new Recorder<FolderImportResult>().Callbacks(), None));
        Assert.Equal("FolderStateFolderIsFile", blocked.ErrorId);

        File.Delete(Path.Combine(inbox, "processed"));
        using (FolderJournal.Open(Path.Combine(inbox, "journal.csv")))
        {
            var busy = await Assert.ThrowsAsync<D365Exception>(() => Import(env, inbox).RunAsync(new Recorder<FolderImportResult>().Callbacks(), None));
            Assert.Equal(("FolderBusy", D365ErrorCategory.ResourceUnavailable), (busy.ErrorId, busy.Category));
        }
        Assert.Empty(env.Emulator.State.Enqueued);
        Assert.True(File.Exists(Path.Combine(inbox, "a.csv")));
    }

    [Fact]
    public async Task An_inbox_it_may_not_write_to_gets_a_clear_error_sends_nothing_and_leaves_the_files_in_place()
    {
        // Tests run as root, whom file permissions do not stop: a read-only bind mount refuses every write and rename.
        Assert.True(OperatingSystem.IsLinux(), "the read-only inbox is a bind mount, exercised on Linux");
        await using var env = await Emulated.StartAsync();
        var inbox = Inbox(env, ("a.csv", "ID\nA\n"));
        Assert.Equal(0, Run("mount", $"--bind {inbox} {inbox}"));
        try
        {
            Assert.Equal(0, Run("mount", $"-o remount,ro,bind {inbox}"));
            var recorder = new Recorder<FolderImportResult>();

            var error = await Assert.ThrowsAsync<D365Exception>(() => Import(env, inbox).RunAsync(recorder.Callbacks(), None));

            Assert.True(error.ErrorId is "FolderAccessDenied" or "FolderWriteFailed", error.ErrorId + ": " + error.Message);
            Assert.Contains(inbox, error.Message);
            Assert.False(string.IsNullOrWhiteSpace(error.RecommendedAction));
            Assert.Empty(recorder.Results);
            Assert.Empty(env.Emulator.State.Enqueued);
            Assert.Equal(new[] { "a.csv" }, Directory.GetFileSystemEntries(inbox).Select(Path.GetFileName));
        }
        finally
        {
            Run("umount", inbox);
        }
        Assert.Equal("ID\nA\n", File.ReadAllText(Path.Combine(inbox, "a.csv")));
    }

    private static int Run(string file, string arguments)
    {
        using var process = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo(file, arguments) { RedirectStandardError = true })!;
        process.WaitForExit();
        return process.ExitCode;
    }
}

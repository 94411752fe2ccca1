using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using RecurringIntegrations.Core.Folders;
using RecurringIntegrations.Core.Model;
using RecurringIntegrations.Emulator;
using RecurringIntegrations.Tests.Support;
using Xunit;

namespace RecurringIntegrations.Tests.Folders;

/// <summary>
/// Issue 25 item 2: a run reads the state file and the journal's lines after it, never the settled history; the state is
/// written beside and renamed; a journal of an earlier month is set aside under its month and a new one begun.
/// </summary>
public sealed class JournalStateTests
{
    private static readonly Guid Message = Guid.Parse("6d31e09f-0249-459f-94f0-aad9c2c47b64");

    private static string NewFolder() => Directory.CreateTempSubdirectory().FullName;

    /// <summary>The rule of these tests: a line is settled once a Processed line of its file follows it.</summary>
    internal static IEnumerable<JournalEntry> Unsettled(IEnumerable<JournalEntry> entries)
    {
        var open = new Dictionary<string, List<JournalEntry>>();
        foreach (var entry in entries)
        {
            if (entry.Event == JournalEvent.Processed) open.Remove(entry.File);
            else (open.TryGetValue(entry.File, out var lines) ? lines : open[entry.File] = new List<JournalEntry>()).Add(entry);
        }
        return open.Values.SelectMany(lines => lines).ToList();
    }

    private static FolderJournal Open(string path) => FolderJournal.Open(path, null, CancellationToken.None, Unsettled);

    /// <summary>Overwrites the journal's line <paramref name="number"/> (1 = header) with text no reader accepts, keeping its length.</summary>
    private static void Spoil(string path, int number)
    {
        var lines = File.ReadAllLines(path);
        var line = lines[number - 1];
        lines[number - 1] = "\"x\"" + new string('x', line.Length - 3);
        File.WriteAllText(path, string.Join("\r\n", lines) + "\r\n", new UTF8Encoding(true));
    }

    [Fact]
    public void After_a_checkpoint_a_run_reads_the_state_and_only_the_lines_appended_after_it()
    {
        var path = Path.Combine(NewFolder(), "journal.csv");
        using (var journal = Open(path))
        {
            journal.Append(new JournalEntry { Event = JournalEvent.Sent, File = "a.csv", MessageId = Message });
            journal.Append(new JournalEntry { Event = JournalEvent.Processed, File = "a.csv", MessageId = Message });
            journal.Append(new JournalEntry { Event = JournalEvent.Sent, File = "b.csv", MessageId = Message });
            journal.Checkpoint();
            Assert.Equal(new[] { "b.csv" }, journal.Entries.Select(e => e.File));
            // Written after the checkpoint, and never checkpointed: a run that died here.
            journal.Append(new JournalEntry { Event = JournalEvent.Sent, File = "c.csv", MessageId = Message });
        }
        // The settled lines are never read again: spoiled, they are not noticed (only the first line is, to tell this
        // journal from a later one).
        Spoil(path, 3);

        using (var journal = Open(path))
            Assert.Equal(new[] { "b.csv", "c.csv" }, journal.Entries.Select(e => e.File));
        Assert.Equal(5, File.ReadAllLines(path).Length);
        var state = File.ReadAllLines(FolderJournal.StatePathFor(path));
        Assert.Equal("\"Offset\",\"Lines\",\"First\"", state[0]);
        Assert.Equal(new[] { "b.csv" }, state.Skip(3).Select(l => FolderJournal.SplitCsv(l)[2]));
    }

    [Fact]
    public void A_checkpoint_with_nothing_appended_and_nothing_settled_leaves_the_state_as_it_is()
    {
        var path = Path.Combine(NewFolder(), "journal.csv");
        var state = FolderJournal.StatePathFor(path);
        using (var journal = Open(path))
        {
            journal.Append(new JournalEntry { Event = JournalEvent.Sent, File = "a.csv" });
            journal.Checkpoint();
        }
        var old = new DateTime(2020, 1, 1, 0, 0, 0, DateTimeKind.Utc);
        File.SetLastWriteTimeUtc(state, old);

        using (var journal = Open(path)) journal.Checkpoint();
        Assert.Equal(old, File.GetLastWriteTimeUtc(state));

        using (var journal = Open(path))
        {
            journal.Append(new JournalEntry { Event = JournalEvent.Processed, File = "a.csv" });
            journal.Checkpoint();
        }
        Assert.NotEqual(old, File.GetLastWriteTimeUtc(state));
        using (var journal = Open(path)) Assert.Empty(journal.Entries);
    }

    [Fact]
    public void A_line_after_the_state_that_is_spoiled_is_still_an_error_naming_its_line_number()
    {
        var path = Path.Combine(NewFolder(), "journal.csv");
        using (var journal = Open(path))
        {
            journal.Append(new JournalEntry { Event = JournalEvent.Sent, File = "a.csv" });
            journal.Checkpoint();
            journal.Append(new JournalEntry { Event = JournalEvent.Sent, File = "b.csv" });
        }
        var lines = File.ReadAllLines(path);
        lines[2] = lines[2].Replace("\"Sent\"", "\"Sant\"");
        File.WriteAllText(path, string.Join("\r\n", lines) + "\r\n");

        var error = Assert.Throws<RecurringIntegrations.Core.Errors.D365Exception>(() => Open(path));

        Assert.Equal("JournalLineInvalid", error.ErrorId);
        Assert.Contains("Line 3", error.Message);
    }

    [Fact]
    public void A_state_left_half_written_by_a_crash_is_removed_and_the_whole_one_before_it_is_used()
    {
        var folder = NewFolder();
        var path = Path.Combine(folder, "journal.csv");
        using (var journal = Open(path))
        {
            journal.Append(new JournalEntry { Event = JournalEvent.Sent, File = "a.csv" });
            journal.Checkpoint();
        }
        var partial = Path.Combine(folder, ".journal.csv.state.0123abcd.partial");
        File.WriteAllText(partial, "\"Offset\",\"Lin");

        using (var journal = Open(path))
            Assert.Equal(new[] { "a.csv" }, journal.Entries.Select(e => e.File));
        Assert.False(File.Exists(partial));
    }

    [Fact]
    public void A_journal_of_an_older_version_without_a_state_is_read_whole_once_then_never_again()
    {
        var folder = NewFolder();
        var path = Path.Combine(folder, "journal.csv");
        using (var journal = FolderJournal.Open(path))
            for (var i = 0; i < 50; i++)
            {
                journal.Append(new JournalEntry { Event = JournalEvent.Sent, File = $"f{i}.csv", MessageId = Message });
                if (i != 7) journal.Append(new JournalEntry { Event = JournalEvent.Processed, File = $"f{i}.csv", MessageId = Message });
            }
        Assert.False(File.Exists(FolderJournal.StatePathFor(path)));

        using (var journal = Open(path))
        {
            Assert.Equal(new[] { "f7.csv" }, journal.Entries.Select(e => e.File));
            journal.Checkpoint();
        }
        Spoil(path, 3);

        using (var journal = Open(path))
            Assert.Equal(new[] { "f7.csv" }, journal.Entries.Select(e => e.File));
    }

    /// <summary>A journal whose lines are of <paramref name="month"/>, as an earlier run would have left it.</summary>
    internal static void WriteJournalOf(string path, DateTimeOffset month, params (string Event, string File)[] lines)
    {
        var text = new StringBuilder("\"Date\",\"Event\",\"File\",\"MessageId\",\"Status\",\"Path\",\"Length\",\"ErrorCount\",\"Expanded\",\"Detail\",\"Company\"\r\n");
        var at = month;
        foreach (var (@event, file) in lines)
        {
            at = at.AddMinutes(1);
            text.Append($"\"{at:yyyy-MM-dd'T'HH:mm:ss.fffzzz}\",\"{@event}\",\"{file}\",\"{Message}\",\"\",\"\",\"\",\"\",\"\",\"\",\"\"\r\n");
        }
        File.WriteAllText(path, text.ToString(), new UTF8Encoding(true));
    }

    [Fact]
    public void A_journal_begun_in_an_earlier_month_is_renamed_for_that_month_and_its_unsettled_lines_carry_over()
    {
        var folder = NewFolder();
        var path = Path.Combine(folder, "journal.csv");
        var march = new DateTimeOffset(2025, 3, 10, 8, 0, 0, DateTimeOffset.Now.Offset);
        WriteJournalOf(path, march, ("Sent", "a.csv"), ("Processed", "a.csv"), ("Sent", "b.csv"));
        var before = File.ReadAllText(path);

        using (var journal = Open(path))
        {
            Assert.Equal(new[] { "b.csv" }, journal.Entries.Select(e => e.File));
            journal.Append(new JournalEntry { Event = JournalEvent.Sent, File = "c.csv" });
        }

        // Import-Csv reads the month's journal as it was; the new journal has this month's line only.
        Assert.Equal(before, File.ReadAllText(Path.Combine(folder, "journal.2025-03.csv")));
        Assert.Equal(new[] { "c.csv" }, FolderJournal.Read(path).Select(e => e.File));
        using (var journal = Open(path))
            Assert.Equal(new[] { "b.csv", "c.csv" }, journal.Entries.Select(e => e.File));
        Assert.Equal(new[] { "journal.2025-03.csv", "journal.csv", "journal.csv.lock", "journal.csv.state" },
            Directory.GetFiles(folder).Select(Path.GetFileName).OrderBy(n => n, StringComparer.Ordinal));
    }

    [Fact]
    public void A_crash_after_the_month_s_journal_was_renamed_and_before_the_new_one_began_loses_nothing()
    {
        var folder = NewFolder();
        var path = Path.Combine(folder, "journal.csv");
        WriteJournalOf(path, new DateTimeOffset(2025, 3, 10, 8, 0, 0, DateTimeOffset.Now.Offset), ("Sent", "a.csv"), ("Sent", "b.csv"), ("Processed", "a.csv"));
        using (Open(path)) { }
        // As if the process had died right after the rename: the state reaches to the old journal's end, no new journal yet.
        File.Delete(path);

        using (var journal = Open(path))
        {
            Assert.Equal(new[] { "b.csv" }, journal.Entries.Select(e => e.File));
            journal.Append(new JournalEntry { Event = JournalEvent.Sent, File = "c.csv" });
        }
        using (var journal = Open(path))
            Assert.Equal(new[] { "b.csv", "c.csv" }, journal.Entries.Select(e => e.File));
    }

    [Theory]
    [InlineData("journal.csv", true)]
    [InlineData("journal.csv.lock", true)]
    [InlineData("journal.csv.state", true)]
    [InlineData("journal.2025-03.csv", true)]
    [InlineData("journal.2025-03 (2).csv", true)]
    [InlineData("journal.2025-3.csv", false)]
    [InlineData("journal.csv.old", false)]
    [InlineData("orders.2025-03.csv", false)]
    public void The_journal_s_own_files_are_known_by_name(string name, bool own)
    {
        var folder = NewFolder();
        Assert.Equal(own, FolderJournal.IsJournalFile(Path.Combine(folder, name), Path.Combine(folder, "journal.csv")));
    }

    [Fact]
    public async Task An_import_never_sends_the_journal_s_state_or_a_month_s_journal_and_settles_a_pending_file_from_the_state()
    {
        await using var env = await Emulated.StartAsync(o => o.ProcessingDelay = TimeSpan.FromMilliseconds(300));
        var inbox = Path.Combine(env.Folder, "inbox");
        Directory.CreateDirectory(inbox);
        File.WriteAllText(Path.Combine(inbox, "a.csv"), "ID\nA\n");
        var import = new FolderImport(env.Session, env.Client, WellKnown.ImportActivity, inbox) { Settle = TimeSpan.Zero, Timeout = TimeSpan.Zero };
        var first = new Recorder<FolderImportResult>();
        await import.RunAsync(first.Callbacks(), CancellationToken.None);
        Assert.Equal(FolderImportOutcome.Pending, Assert.Single(first.Results).Outcome);
        File.Copy(Path.Combine(inbox, "journal.csv"), Path.Combine(inbox, "journal.2025-03.csv"));
        // The journal's lines before the state are not read again: spoiled, they go unnoticed, and the pending file still settles.
        Spoil(Path.Combine(inbox, "journal.csv"), 3);

        var second = new Recorder<FolderImportResult>();
        await new FolderImport(env.Session, env.Client, WellKnown.ImportActivity, inbox) { Settle = TimeSpan.Zero }.RunAsync(second.Callbacks(), CancellationToken.None);

        var row = Assert.Single(second.Results);
        Assert.Equal(("a.csv", FolderImportOutcome.Processed), (row.FileName, row.Outcome));
        Assert.Single(env.Emulator.State.Enqueued);
        Assert.Empty(second.Errors);
    }
}

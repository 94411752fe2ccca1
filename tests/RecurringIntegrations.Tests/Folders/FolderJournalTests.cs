using System;
using System.IO;
using System.Linq;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using RecurringIntegrations.Core.Errors;
using RecurringIntegrations.Core.Folders;
using RecurringIntegrations.Core.Model;
using RecurringIntegrations.Emulator;
using RecurringIntegrations.Tests.Support;
using Xunit;

namespace RecurringIntegrations.Tests.Folders;

/// <summary>The typed journal: numbers as numbers, flags as flags, and journals of the first format still load.</summary>
public sealed class FolderJournalTests
{
    private static readonly Guid Message = Guid.Parse("6d31e09f-0249-459f-94f0-aad9c2c47b64");
    private static readonly Guid Export = Guid.Parse("0b7a6a1e-57d6-4b8c-9a55-3f2f1b0e4d21");

    /// <summary>A journal as the first format wrote it: the error count in Detail, "Expanded" in Status, 8 columns.</summary>
    private static string FirstFormat(string folder) =>
        "\uFEFF\"Date\",\"Event\",\"File\",\"MessageId\",\"Status\",\"Path\",\"Length\",\"Detail\"\r\n" +
        $"\"2026-01-02T03:04:05.006+00:00\",\"Sending\",\"b.csv\",\"\",\"\",\"{Path.Combine(folder, "sending", "b.csv")}\",\"\",\"\"\r\n" +
        $"\"2026-01-02T03:04:05.106+00:00\",\"Sent\",\"b.csv\",\"{Message}\",\"\",\"{Path.Combine(folder, "sending", "b.csv")}\",\"\",\"\"\r\n" +
        $"\"2026-01-02T03:04:06.000+00:00\",\"Failed\",\"b.csv\",\"{Message}\",\"ProcessedWithErrors\",\"{Path.Combine(folder, "failed", "b.csv")}\",\"\",\"3 execution error(s)\"\r\n" +
        $"\"2026-01-02T03:04:07.000+00:00\",\"Saved\",\"pkg\",\"{Export}\",\"Expanded\",\"{Path.Combine(folder, "pkg")}\",\"1234\",\"\"\r\n";

    private static string NewFolder() => Directory.CreateTempSubdirectory().FullName;

    [Fact]
    public void Every_field_comes_back_typed_as_it_was_appended()
    {
        var path = Path.Combine(NewFolder(), "journal.csv");
        using (var journal = FolderJournal.Open(path))
        {
            journal.Append(new JournalEntry { Event = JournalEvent.Failed, File = "a, \"b\".csv", MessageId = Message, Status = "ProcessedWithErrors", Path = "/x/a.csv", ErrorCount = 2, Detail = "two\r\nlines" });
            journal.Append(new JournalEntry { Event = JournalEvent.Saved, File = "pkg", MessageId = Export, Path = "/x/pkg", Length = 5_000_000_000, Expanded = true });
        }

        var entries = FolderJournal.Read(path);

        var failed = entries[0];
        Assert.Equal((JournalEvent.Failed, "a, \"b\".csv", Message, "ProcessedWithErrors", "/x/a.csv", 2, "two lines", FolderImportOutcome.Failed),
            (failed.Event, failed.File, failed.MessageId, failed.Status, failed.Path, failed.ErrorCount, failed.Detail, failed.Outcome));
        Assert.Null(failed.Length);
        Assert.False(failed.Expanded);
        var saved = entries[1];
        Assert.Equal((JournalEvent.Saved, 5_000_000_000L, true, "", (int?)null, (FolderImportOutcome?)null),
            (saved.Event, saved.Length, saved.Expanded, saved.Status, saved.ErrorCount, saved.Outcome));
        Assert.InRange(DateTimeOffset.Now - saved.Date, TimeSpan.Zero, TimeSpan.FromMinutes(5));
    }

    [Fact]
    public void Every_line_has_the_header_s_columns_with_numbers_and_flags_in_columns_of_their_own()
    {
        var path = Path.Combine(NewFolder(), "journal.csv");
        using (var journal = FolderJournal.Open(path))
            journal.Append(new JournalEntry { Event = JournalEvent.Failed, File = "b.csv", MessageId = Message, Status = "ProcessedWithErrors", ErrorCount = 3 });

        var lines = File.ReadAllLines(path).Select(FolderJournal.SplitCsv).ToList();

        Assert.Equal(new[] { "Date", "Event", "File", "MessageId", "Status", "Path", "Length", "ErrorCount", "Expanded", "Detail", "Company" }, lines[0]);
        Assert.Equal(new[] { "Failed", "b.csv", Message.ToString(), "ProcessedWithErrors", "", "", "3", "", "", "" }, lines[1].Skip(1));
    }

    [Fact]
    public void A_journal_of_the_first_format_loads_typed_and_is_brought_to_this_format_when_opened()
    {
        var folder = NewFolder();
        var path = Path.Combine(folder, "journal.csv");
        File.WriteAllText(path, FirstFormat(folder), new UTF8Encoding(false));

        var read = FolderJournal.Read(path);
        Assert.Equal(new[] { JournalEvent.Sending, JournalEvent.Sent, JournalEvent.Failed, JournalEvent.Saved }, read.Select(e => e.Event));
        Assert.Equal((3, ""), (read[2].ErrorCount!.Value, read[2].Detail));
        Assert.Equal((true, "", 1234L), (read[3].Expanded, read[3].Status, read[3].Length!.Value));
        Assert.Equal(new DateTimeOffset(2026, 1, 2, 3, 4, 5, 6, TimeSpan.Zero), read[0].Date);

        using (var journal = FolderJournal.Open(path))
        {
            Assert.Equal(read.Select(e => (e.Event, e.ErrorCount, e.Expanded, e.Status, e.Detail)), journal.Entries.Select(e => (e.Event, e.ErrorCount, e.Expanded, e.Status, e.Detail)));
            journal.Append(new JournalEntry { Event = JournalEvent.Acknowledged, File = "pkg", MessageId = Export });
        }

        // Its lines are of January: rewritten, it became the journal of that month, and a new journal began.
        var archive = Path.Combine(folder, "journal.2026-01.csv");
        var lines = File.ReadAllLines(archive).Select(FolderJournal.SplitCsv).ToList();
        Assert.Equal(5, lines.Count);
        Assert.All(lines, fields => Assert.Equal(11, fields.Length));
        Assert.Equal("3", lines[3][7]);
        Assert.Equal(("", "True"), (lines[4][4], lines[4][8]));
        Assert.Equal(read.Select(e => e.Date), FolderJournal.Read(archive).Select(e => e.Date));
        Assert.Equal(new[] { JournalEvent.Acknowledged }, FolderJournal.Read(path).Select(e => e.Event));
        Assert.Empty(Directory.GetFiles(folder, "*.partial"));
    }

    [Fact]
    public async Task A_run_completes_a_failed_file_s_move_from_a_first_format_journal_with_its_error_count()
    {
        await using var env = await Emulated.StartAsync();
        var inbox = Path.Combine(env.Folder, "inbox");
        Directory.CreateDirectory(Path.Combine(inbox, "sending"));
        File.WriteAllText(Path.Combine(inbox, "sending", "b.csv"), "ID\nB\n");
        File.WriteAllText(Path.Combine(inbox, "journal.csv"), FirstFormat(inbox), new UTF8Encoding(false));
        var recorder = new Recorder<FolderImportResult>();

        await new FolderImport(env.Session, env.Client, WellKnown.ImportActivity, inbox) { Settle = TimeSpan.Zero }.RunAsync(recorder.Callbacks(), CancellationToken.None);

        var row = Assert.Single(recorder.Results);
        Assert.Equal((FolderImportOutcome.Failed, 3, Message, "ProcessedWithErrors"), (row.Outcome, row.ErrorCount, row.MessageId!.Value, row.Status));
        Assert.True(File.Exists(Path.Combine(inbox, "failed", "b.csv")));
        Assert.Empty(env.Emulator.State.Enqueued);
    }

    [Theory]
    [InlineData("\"2026-01-02T03:04:05.006+00:00\",\"Sendin\",\"a.csv\",\"\",\"\",\"\",\"\",\"\",\"\",\"\"", "Event 'Sendin'")]
    [InlineData("\"2026-01-02T03:04:05.006+00:00\",\"Sent\",\"a.csv\",\"not-a-guid\",\"\",\"\",\"\",\"\",\"\",\"\"", "MessageId 'not-a-guid'")]
    [InlineData("\"2026-01-02T03:04:05.006+00:00\",\"Failed\",\"a.csv\",\"\",\"\",\"\",\"\",\"three\",\"\",\"\"", "ErrorCount 'three'")]
    [InlineData("\"2026-01-02T03:04:05.006+00:00\",\"Saved\",\"a.csv\",\"\",\"\",\"\",\"-1\",\"\",\"\",\"\"", "Length '-1'")]
    [InlineData("\"yesterday\",\"Saved\",\"a.csv\",\"\",\"\",\"\",\"\",\"\",\"\",\"\"", "Date 'yesterday'")]
    public void A_line_edited_out_of_shape_is_an_error_naming_its_line_and_column(string line, string named)
    {
        var path = Path.Combine(NewFolder(), "journal.csv");
        File.WriteAllText(path, "\"Date\",\"Event\",\"File\",\"MessageId\",\"Status\",\"Path\",\"Length\",\"ErrorCount\",\"Expanded\",\"Detail\"\r\n" + line + "\r\n");

        var error = Assert.Throws<D365Exception>(() => FolderJournal.Open(path));

        Assert.Equal("JournalLineInvalid", error.ErrorId);
        Assert.Contains("Line 2", error.Message);
        Assert.Contains(named, error.Message);
    }

    private static string ThisMonth => DateTimeOffset.Now.ToString("yyyy-MM", System.Globalization.CultureInfo.InvariantCulture) + "-01";

    /// <summary>A journal as the second format wrote it (10 columns, no Company), begun this month so that it is not set aside.</summary>
    private static string SecondFormat(string folder) =>
        "\uFEFF\"Date\",\"Event\",\"File\",\"MessageId\",\"Status\",\"Path\",\"Length\",\"ErrorCount\",\"Expanded\",\"Detail\"\r\n" +
        $"\"{ThisMonth}T03:04:05.006+00:00\",\"Sending\",\"b.csv\",\"\",\"\",\"{Path.Combine(folder, "sending", "b.csv")}\",\"\",\"\",\"\",\"\"\r\n" +
        $"\"{ThisMonth}T03:04:05.106+00:00\",\"Sent\",\"b.csv\",\"{Message}\",\"\",\"{Path.Combine(folder, "sending", "b.csv")}\",\"\",\"\",\"\",\"\"\r\n";

    [Fact]
    public void The_company_comes_back_as_appended_and_a_journal_without_its_column_loads_and_gains_it_when_opened()
    {
        var folder = NewFolder();
        var path = Path.Combine(folder, "journal.csv");
        File.WriteAllText(path, SecondFormat(folder), new UTF8Encoding(false));

        var read = FolderJournal.Read(path);
        Assert.Equal(new[] { (JournalEvent.Sending, ""), (JournalEvent.Sent, "") }, read.Select(e => (e.Event, e.Company)));

        using (var journal = FolderJournal.Open(path))
        {
            Assert.Equal(read.Select(e => (e.Event, e.File, e.MessageId)), journal.Entries.Select(e => (e.Event, e.File, e.MessageId)));
            journal.Append(new JournalEntry { Event = JournalEvent.Sending, File = "USMF/a.csv", Company = "USMF" });
        }

        var lines = File.ReadAllLines(path).Select(FolderJournal.SplitCsv).ToList();
        Assert.Equal("Company", lines[0].Last());
        Assert.All(lines, fields => Assert.Equal(lines[0].Length, fields.Length));
        Assert.Equal(new[] { "", "", "USMF" }, lines.Skip(1).Select(fields => fields.Last()));
        var again = FolderJournal.Read(path);
        Assert.Equal(new[] { "", "", "USMF" }, again.Select(e => e.Company));
        Assert.Equal(read.Select(e => e.Date), again.Take(2).Select(e => e.Date));
    }
}

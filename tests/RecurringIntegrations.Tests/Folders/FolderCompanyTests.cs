using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using RecurringIntegrations.Core.Errors;
using RecurringIntegrations.Core.Folders;
using RecurringIntegrations.Core.Model;
using RecurringIntegrations.Core.Operations;
using RecurringIntegrations.Emulator;
using RecurringIntegrations.Tests.Support;
using Xunit;

namespace RecurringIntegrations.Tests.Folders;

/// <summary>A company per file (issue 19): -CompanyFrom Subfolder and FileName, the send order, and the company in every row.</summary>
public sealed class FolderCompanyTests
{
    private static readonly CancellationToken None = CancellationToken.None;

    private static FolderImport Import(Emulated env, string inbox) =>
        new(env.Session, env.Client, WellKnown.ImportActivity, inbox)
        {
            EntityName = "Customer groups",
            Settle = TimeSpan.Zero,
            Timeout = TimeSpan.FromSeconds(20),
            PollInterval = TimeSpan.FromMilliseconds(50),
        };

    /// <summary>Writes the files (names may hold a subfolder: 'USMF/a.csv') into a new inbox.</summary>
    private static string Inbox(Emulated env, params string[] names)
    {
        var inbox = Path.Combine(env.Folder, "inbox");
        Directory.CreateDirectory(inbox);
        foreach (var name in names)
        {
            var path = Path.Combine(inbox, name.Replace('/', Path.DirectorySeparatorChar));
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllText(path, name.Contains("bad", StringComparison.Ordinal) ? "ID\nEMULATOR-ERROR: too long\n" : "ID\n" + name + "\n");
        }
        return inbox;
    }

    /// <summary>What the emulator received: (external identifier, company) per message, in the order they arrived.</summary>
    private static List<(string? File, string? Company)> Received(Emulated env) =>
        env.Emulator.State.Enqueued.OrderBy(m => m.EnqueuedAt).Select(m => (m.ExternalIdentifier, m.Company)).ToList();

    [Theory]
    [InlineData(1)]
    [InlineData(4)]
    public async Task Subfolder_sends_each_company_s_files_to_it_and_keeps_the_company_folder_in_processed_and_failed(int throttleLimit)
    {
        await using var env = await Emulated.StartAsync();
        var inbox = Inbox(env, "USMF/a.csv", "DEMF/a.csv", "DEMF/bad.csv", "root.csv");
        var recorder = new Recorder<FolderImportResult>();
        var import = Import(env, inbox);
        import.CompanyFrom = CompanySource.Subfolder;
        import.Company = "USSI";
        import.ThrottleLimit = throttleLimit;

        await import.RunAsync(recorder.Callbacks(), None);

        Assert.Empty(recorder.Errors);
        Assert.Equal(new (string?, string?)[] { ("a.csv", "DEMF"), ("a.csv", "USMF"), ("bad.csv", "DEMF"), ("root.csv", "USSI") },
            Received(env).OrderBy(m => m.File).ThenBy(m => m.Company));
        var rows = recorder.Results.ToList();
        Assert.Equal(new[] { "a.csv DEMF Processed", "a.csv USMF Processed", "bad.csv DEMF Failed", "root.csv USSI Processed" },
            rows.Select(r => $"{r.FileName} {r.Company} {r.Outcome}").OrderBy(r => r, StringComparer.Ordinal));
        Assert.True(File.Exists(Path.Combine(inbox, "processed", "USMF", "a.csv")));
        Assert.True(File.Exists(Path.Combine(inbox, "processed", "DEMF", "a.csv")));
        Assert.True(File.Exists(Path.Combine(inbox, "processed", "root.csv")));
        Assert.Contains("Company: DEMF", File.ReadAllText(Path.Combine(inbox, "failed", "DEMF", "bad.csv.error.txt")));
        Assert.Equal(Path.Combine(inbox, "failed", "DEMF", "bad.csv"), rows.Single(r => r.Outcome == FolderImportOutcome.Failed).Path);
        // The company folders in the inbox stay, empty, for the next files.
        Assert.Empty(Directory.GetFiles(Path.Combine(inbox, "USMF")));

        var journal = FolderJournal.Read(Path.Combine(inbox, "journal.csv"));
        Assert.Equal(new[] { JournalEvent.Sending, JournalEvent.Sent, JournalEvent.Processed }, journal.Where(e => e.File == "USMF/a.csv").Select(e => e.Event));
        Assert.All(journal.Where(e => e.File == "USMF/a.csv"), e => Assert.Equal("USMF", e.Company));
        Assert.All(journal.Where(e => e.File == "DEMF/a.csv"), e => Assert.Equal("DEMF", e.Company));
        Assert.All(journal.Where(e => e.File == "root.csv"), e => Assert.Equal("USSI", e.Company));
    }

    [Fact]
    public async Task Subfolder_never_takes_a_state_folder_or_a_hidden_folder_for_a_company_and_files_in_the_inbox_go_without_one_when_no_company_is_given()
    {
        await using var env = await Emulated.StartAsync();
        var inbox = Inbox(env, "USMF/a.csv", ".git/config.csv", "root.csv");
        // A file left in 'processed' by an earlier run is not sent again as company 'processed'.
        Directory.CreateDirectory(Path.Combine(inbox, "processed"));
        File.WriteAllText(Path.Combine(inbox, "processed", "old.csv"), "ID\nOLD\n");
        var verbose = new List<string>();
        var import = Import(env, inbox);
        import.CompanyFrom = CompanySource.Subfolder;
        import.Verbose = verbose.Add;

        await import.RunAsync(new Recorder<FolderImportResult>().Callbacks(), None);

        Assert.Equal(new (string?, string?)[] { ("a.csv", "USMF"), ("root.csv", null) }, Received(env).OrderBy(m => m.File));
        Assert.Contains(verbose, line => line.Contains("'.git'", StringComparison.Ordinal));
        Assert.True(File.Exists(Path.Combine(inbox, ".git", "config.csv")));
    }

    [Fact]
    public async Task Subfolder_files_left_in_sending_and_pending_are_settled_by_the_next_run_with_their_company()
    {
        await using var env = await Emulated.StartAsync(o => o.ProcessingDelay = TimeSpan.FromMilliseconds(300));
        var inbox = Inbox(env, "USMF/slow.csv");
        var first = Import(env, inbox);
        first.CompanyFrom = CompanySource.Subfolder;
        first.Timeout = TimeSpan.Zero;
        var firstRun = new Recorder<FolderImportResult>();
        await first.RunAsync(firstRun.Callbacks(), None);
        Assert.Equal((FolderImportOutcome.Pending, "USMF"), (Assert.Single(firstRun.Results).Outcome, Assert.Single(firstRun.Results).Company));
        Assert.True(File.Exists(Path.Combine(inbox, "pending", "USMF", "slow.csv")));

        // A crash after the 'Sending' line of another file of the same name in another company: its answer is unknown.
        Directory.CreateDirectory(Path.Combine(inbox, "sending", "DEMF"));
        var lost = Path.Combine(inbox, "sending", "DEMF", "slow.csv");
        File.WriteAllText(lost, "ID\nLOST\n");
        using (var journal = FolderJournal.Open(Path.Combine(inbox, "journal.csv")))
            journal.Append(new JournalEntry { Event = JournalEvent.Sending, File = "DEMF/slow.csv", Company = "DEMF", Path = lost });

        var second = new Recorder<FolderImportResult>();
        await Import(env, inbox).RunAsync(second.Callbacks(), None);

        var rows = second.Results.OrderBy(r => r.Company).ToList();
        Assert.Equal(new[] { ("DEMF", FolderImportOutcome.Unconfirmed), ("USMF", FolderImportOutcome.Processed) }, rows.Select(r => (r.Company!, r.Outcome)));
        Assert.True(File.Exists(Path.Combine(inbox, "unconfirmed", "DEMF", "slow.csv")));
        Assert.True(File.Exists(Path.Combine(inbox, "processed", "USMF", "slow.csv")));
        Assert.Equal(Assert.Single(firstRun.Results).MessageId, rows[1].MessageId);
        Assert.Single(env.Emulator.State.Enqueued);
        Assert.Equal("EnqueueOutcomeUnknown", Assert.Single(second.Errors).Error.ErrorId);
    }

    [Fact]
    public async Task FileName_takes_the_company_from_the_pattern_and_leaves_a_file_it_does_not_match_in_the_inbox_with_an_error()
    {
        await using var env = await Emulated.StartAsync();
        var inbox = Inbox(env, "USMF_a.csv", "DEMF_b.csv", "nocompany.csv");
        var recorder = new Recorder<FolderImportResult>();
        var import = Import(env, inbox);
        import.CompanyFrom = CompanySource.FileName;

        await import.RunAsync(recorder.Callbacks(), None);

        Assert.Equal(new (string?, string?)[] { ("DEMF_b.csv", "DEMF"), ("USMF_a.csv", "USMF") }, Received(env).OrderBy(m => m.File));
        Assert.Equal(new[] { "DEMF", "USMF" }, recorder.Results.Select(r => r.Company).OrderBy(c => c));
        var (target, error) = Assert.Single(recorder.Errors);
        Assert.Equal("CompanyNotInFileName", error.ErrorId);
        Assert.Equal(Path.Combine(inbox, "nocompany.csv"), target);
        Assert.Contains("nocompany.csv", error.Message, StringComparison.Ordinal);
        Assert.Contains(InboxListing.DefaultCompanyPattern, error.Message, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(inbox, "nocompany.csv")));
        Assert.True(File.Exists(Path.Combine(inbox, "processed", "USMF_a.csv")));
        Assert.DoesNotContain(FolderJournal.Read(Path.Combine(inbox, "journal.csv")), e => e.File == "nocompany.csv");
    }

    [Fact]
    public async Task FileName_with_a_pattern_of_its_own()
    {
        await using var env = await Emulated.StartAsync();
        var inbox = Inbox(env, "groups-usmf.csv", "groups.csv");
        var recorder = new Recorder<FolderImportResult>();
        var import = Import(env, inbox);
        import.CompanyFrom = CompanySource.FileName;
        import.CompanyPattern = @"-(?<company>[a-z0-9]{1,4})\.csv$";

        await import.RunAsync(recorder.Callbacks(), None);

        Assert.Equal(new (string?, string?)[] { ("groups-usmf.csv", "usmf") }, Received(env));
        Assert.Equal("CompanyNotInFileName", Assert.Single(recorder.Errors).Error.ErrorId);
    }

    [Theory]
    [InlineData(CompanySource.FileName, "^[^_]+_", null, "CompanyPatternWithoutGroup")]
    [InlineData(CompanySource.FileName, "^(?<company>[^_+_", null, "CompanyPatternInvalid")]
    [InlineData(CompanySource.Subfolder, "^(?<company>[^_]+)_", null, "CompanyParametersConflict")]
    [InlineData(null, "^(?<company>[^_]+)_", null, "CompanyParametersConflict")]
    [InlineData(CompanySource.FileName, null, "USMF", "CompanyParametersConflict")]
    public async Task Company_parameters_that_do_not_go_together_stop_the_run_before_any_step(CompanySource? from, string? pattern, string? company, string errorId)
    {
        await using var env = await Emulated.StartAsync();
        var inbox = Inbox(env, "USMF_a.csv");
        var import = Import(env, inbox);
        import.CompanyFrom = from;
        import.CompanyPattern = pattern;
        import.Company = company;

        var error = await Assert.ThrowsAsync<D365Exception>(() => import.RunAsync(new Recorder<FolderImportResult>().Callbacks(), None));

        Assert.Equal(errorId, error.ErrorId);
        if (pattern != null && errorId != "CompanyParametersConflict") Assert.Contains(pattern, error.Message, StringComparison.Ordinal);
        Assert.Contains(errorId == "CompanyParametersConflict" ? "-CompanyFrom FileName" : "(?<company>", error.Message + error.RecommendedAction, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(inbox, "journal.csv")));
        Assert.True(File.Exists(Path.Combine(inbox, "USMF_a.csv")));
        Assert.Empty(env.Emulator.State.Enqueued);
    }

    [Theory]
    [InlineData(InboxOrder.Name, false, new[] { "a.csv", "b.csv", "c.csv" })]
    [InlineData(InboxOrder.Name, true, new[] { "c.csv", "b.csv", "a.csv" })]
    [InlineData(InboxOrder.LastWriteTime, false, new[] { "b.csv", "c.csv", "a.csv" })]
    [InlineData(InboxOrder.LastWriteTime, true, new[] { "a.csv", "c.csv", "b.csv" })]
    [InlineData(InboxOrder.Length, false, new[] { "c.csv", "a.csv", "b.csv" })]
    [InlineData(InboxOrder.Length, true, new[] { "b.csv", "a.csv", "c.csv" })]
    public async Task OrderBy_and_Descending_choose_the_order_the_inbox_is_sent_in(InboxOrder order, bool descending, string[] expected)
    {
        await using var env = await Emulated.StartAsync();
        var inbox = Path.Combine(env.Folder, "inbox");
        Directory.CreateDirectory(inbox);
        var now = DateTime.UtcNow.AddHours(-1);
        foreach (var (name, length, age) in new[] { ("a.csv", 20, 1), ("b.csv", 30, 3), ("c.csv", 10, 2) })
        {
            var path = Path.Combine(inbox, name);
            File.WriteAllText(path, "ID\n" + new string('x', length) + "\n");
            File.SetLastWriteTimeUtc(path, now.AddMinutes(-age));
        }
        var import = Import(env, inbox);
        import.OrderBy = order;
        import.Descending = descending;

        Assert.Equal(expected, import.Candidates().Select(f => f.Name));
        await import.RunAsync(new Recorder<FolderImportResult>().Callbacks(), None);
        Assert.Equal(expected, Received(env).Select(m => m.File));
    }

    [Fact]
    public async Task Ties_of_time_go_by_name_across_company_subfolders()
    {
        await using var env = await Emulated.StartAsync();
        var inbox = Inbox(env, "USMF/b.csv", "DEMF/b.csv", "USMF/a.csv");
        var time = DateTime.UtcNow.AddHours(-1);
        foreach (var file in Directory.GetFiles(inbox, "*", SearchOption.AllDirectories)) File.SetLastWriteTimeUtc(file, time);
        var import = Import(env, inbox);
        import.CompanyFrom = CompanySource.Subfolder;
        import.OrderBy = InboxOrder.LastWriteTime;

        Assert.Equal(new[] { "USMF/a.csv", "DEMF/b.csv", "USMF/b.csv" }, import.Candidates().Select(f => f.Name));
        Assert.Equal(new[] { "USMF", "DEMF", "USMF" }, import.Candidates().Select(f => f.Company));
    }

    [Fact]
    public async Task An_upload_batch_sends_each_file_to_its_own_company_one_at_a_time_and_in_parallel()
    {
        await using var env = await Emulated.StartAsync();
        var files = Enumerable.Range(0, 8).Select(i =>
        {
            var path = Path.Combine(env.Folder, $"f{i}.csv");
            File.WriteAllText(path, $"ID\n{i}\n");
            return new EnqueueRequest(path) { EntityName = "Customer groups", Company = i % 2 == 0 ? "USMF" : "DEMF" };
        }).ToList();

        foreach (var limit in new[] { 1, 4 })
        {
            var recorder = new Recorder<EnqueuedMessage>();
            await new EnqueueBatch(env.Session, env.Client, WellKnown.ImportActivity) { ThrottleLimit = limit }.RunAsync(files, recorder.Callbacks(), None);
            Assert.Empty(recorder.Errors);
            var received = env.Emulator.State.Enqueued.ToDictionary(m => m.MessageId, m => m.Company);
            Assert.All(recorder.Results, r => Assert.Equal(r.Company, received[r.MessageId]));
            Assert.Equal(files.Select(f => (Path.GetFileName(f.Path), f.Company)).OrderBy(f => f.Item1),
                recorder.Results.Select(r => (r.FileName, r.Company)).OrderBy(f => f.FileName));
        }
    }

    [Fact]
    public void A_status_row_carries_the_company_it_was_given()
    {
        var row = StatusWaiter.Create(new MessageReference(Guid.NewGuid()) { FileName = "a.csv", Company = "USMF" }, "Processed", "https://contoso");
        Assert.Equal(("a.csv", "USMF"), (row.FileName, row.Company));
    }
}

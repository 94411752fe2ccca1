using System;
using System.IO;
using System.IO.Compression;
using System.Linq;
using System.Security.Cryptography;
using System.Threading;
using System.Threading.Tasks;
using RecurringIntegrations.Core.Folders;
using RecurringIntegrations.Core.Model;
using RecurringIntegrations.Core.Packages;
using RecurringIntegrations.Emulator;
using RecurringIntegrations.Tests.Support;
using Xunit;

namespace RecurringIntegrations.Tests.Folders;

/// <summary>Invoke-D365FolderImport -DefinitionGroupId -LegalEntityId: an inbox of data packages imported with the package API.</summary>
public sealed class PackageInboxTests
{
    private const string Project = "Groups project";
    private static readonly CancellationToken None = CancellationToken.None;

    private static FolderImport Import(Emulated env, string inbox) =>
        new(env.Session, env.Client, new DataPackageClient(env.Session), Project, "usmf", inbox)
        {
            Settle = TimeSpan.Zero,
            Timeout = TimeSpan.FromSeconds(20),
            PollInterval = TimeSpan.FromMilliseconds(20),
        };

    private static string Inbox(Emulated env)
    {
        var inbox = Path.Combine(env.Folder, "inbox");
        Directory.CreateDirectory(inbox);
        return inbox;
    }

    /// <summary>A package of one Customer groups file, written into the inbox.</summary>
    private static string AddPackage(Emulated env, string inbox, string name, string content)
    {
        var data = env.WriteFile(Path.GetFileNameWithoutExtension(name) + ".csv", content);
        return DataPackages.Create(new DataPackageRequest(new[] { new PackageEntity(data) { EntityName = "Customer groups", SourceFormat = "CSV-Unicode" } },
            Path.Combine(inbox, name))).FullName;
    }

    private static string Hash(string path) => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(path)));

    private static string BlobHash(Emulated env, string blobName)
    {
        using var blob = env.Emulator.Blobs.OpenRead(blobName)!;
        return Convert.ToHexString(SHA256.HashData(blob));
    }

    /// <summary>How many of the emulator's imports were of this very package.</summary>
    private static int ImportsOf(Emulated env, string packageHash) =>
        env.Emulator.Packages.Executions.Count(e => e.Kind == "Import" && e.PackageBlob != null && env.Emulator.Blobs.Exists(e.PackageBlob) &&
                                                   BlobHash(env, e.PackageBlob) == packageHash);

    [Fact]
    public async Task Imports_each_package_under_an_execution_id_it_journals_first_and_sorts_them_by_outcome_with_the_errors_beside_the_failed_one()
    {
        await using var env = await Emulated.StartAsync(o => o.ProcessingDelay = TimeSpan.FromMilliseconds(100));
        var inbox = Inbox(env);
        var good = Hash(AddPackage(env, inbox, "a.zip", "CUSTGROUP\r\n10\r\n"));
        var bad = Hash(AddPackage(env, inbox, "b.zip", "CUSTGROUP\r\n20\r\nEMULATOR-ERROR: Group 20 has no terms of payment\r\n"));
        var recorder = new Recorder<FolderImportResult>();

        await Import(env, inbox).RunAsync(recorder.Callbacks(), None);

        Assert.Empty(recorder.Errors);
        var rows = recorder.Results.OrderBy(r => r.FileName).ToList();
        Assert.Equal(new[] { FolderImportOutcome.Processed, FolderImportOutcome.Failed }, rows.Select(r => r.Outcome));
        Assert.Equal(new[] { "Succeeded", "PartiallySucceeded" }, rows.Select(r => r.Status));
        Assert.All(rows, r => Assert.Null(r.MessageId));
        Assert.True(File.Exists(Path.Combine(inbox, "processed", "a.zip")));
        var errorText = File.ReadAllText(Path.Combine(inbox, "failed", "b.zip.error.txt"));
        Assert.Contains("Execution " + rows[1].ExecutionId + " ended PartiallySucceeded", errorText);
        Assert.Contains("Group 20 has no terms of payment", errorText);
        Assert.Equal(1, rows[1].ErrorCount);
        Assert.Equal(1, ImportsOf(env, good));
        Assert.Equal(1, ImportsOf(env, bad));
        // The execution ids are the module's own, and the service ran the imports one after the other.
        var executions = env.Emulator.Packages.Executions;
        Assert.Equal(rows.Select(r => r.ExecutionId).OrderBy(i => i), executions.Select(e => e.ExecutionId).OrderBy(i => i));
        Assert.All(executions, e => Assert.Equal("usmf", e.LegalEntityId));

        var journal = FolderJournal.Read(Path.Combine(inbox, "journal.csv"));
        foreach (var row in rows)
        {
            var lines = journal.Where(e => e.File == row.FileName).ToList();
            Assert.Equal(new[] { JournalEvent.Sending, JournalEvent.Importing, JournalEvent.Sent, row.Outcome == FolderImportOutcome.Processed ? JournalEvent.Processed : JournalEvent.Failed },
                lines.Select(e => e.Event));
            Assert.All(lines.Skip(1), e => Assert.Equal(Guid.Parse(row.ExecutionId), e.MessageId));
        }
    }

    [Fact]
    public async Task A_package_whose_import_answer_was_lost_goes_to_unconfirmed_and_is_never_imported_again()
    {
        await using var env = await Emulated.StartAsync(o => o.ProcessingDelay = TimeSpan.FromMilliseconds(50));
        env.Emulator.Faults.Add(new FaultRule { PathContains = "ImportFromPackageAsync", Kind = FaultKind.ResetAfterBody });
        var inbox = Inbox(env);
        var lost = Hash(AddPackage(env, inbox, "lost.zip", "CUSTGROUP\r\n30\r\n"));
        var recorder = new Recorder<FolderImportResult>();

        await Import(env, inbox).RunAsync(recorder.Callbacks(), None);
        await Import(env, inbox).RunAsync(new Recorder<FolderImportResult>().Callbacks(), None);

        var row = Assert.Single(recorder.Results);
        Assert.Equal(FolderImportOutcome.Unconfirmed, row.Outcome);
        var (target, error) = Assert.Single(recorder.Errors);
        Assert.Equal("PackageOutcomeUnknown", error.ErrorId);
        Assert.Contains(row.ExecutionId, error.Message);
        Assert.Equal(Path.Combine(inbox, "unconfirmed", "lost.zip"), target);
        Assert.True(File.Exists(Path.Combine(inbox, "unconfirmed", "lost.zip")));
        Assert.Equal(1, ImportsOf(env, lost));
        Assert.Equal(row.ExecutionId, Assert.Single(env.Emulator.Packages.Executions).ExecutionId);
        var last = FolderJournal.Read(Path.Combine(inbox, "journal.csv")).Last();
        Assert.Equal(JournalEvent.Unconfirmed, last.Event);
        Assert.Equal(Guid.Parse(row.ExecutionId), last.MessageId);
    }

    [Fact]
    public async Task A_data_file_is_refused_and_stays_in_the_inbox_unless_EntityName_builds_a_package_for_it()
    {
        await using var env = await Emulated.StartAsync(o => o.ProcessingDelay = TimeSpan.FromMilliseconds(50));
        var inbox = Inbox(env);
        File.WriteAllText(Path.Combine(inbox, "groups.csv"), "CUSTGROUP\r\n40\r\n");
        File.WriteAllText(Path.Combine(inbox, "broken.zip"), "not a zip");
        var refused = new Recorder<FolderImportResult>();

        await Import(env, inbox).RunAsync(refused.Callbacks(), None);

        Assert.Empty(refused.Results);
        var errors = refused.Errors.ToDictionary(e => Path.GetFileName((string)e.Target), e => e.Error);
        Assert.Equal("PackageInboxRawFile", errors["groups.csv"].ErrorId);
        Assert.Contains("-EntityName", errors["groups.csv"].RecommendedAction);
        Assert.Equal("NotADataPackage", errors["broken.zip"].ErrorId);
        Assert.True(File.Exists(Path.Combine(inbox, "groups.csv")) && File.Exists(Path.Combine(inbox, "broken.zip")));
        Assert.Empty(env.Emulator.Packages.Executions);

        // -EntityName without the data project's source format cannot build a package: refused before anything moves.
        var noFormat = Import(env, inbox);
        noFormat.EntityName = "Customer groups";
        var unformatted = new Recorder<FolderImportResult>();
        await noFormat.RunAsync(unformatted.Callbacks(), None);
        Assert.Equal("PackageSourceFormatMissing", Assert.Single(unformatted.Errors, e => ((string)e.Target).EndsWith("groups.csv")).Error.ErrorId);
        Assert.True(File.Exists(Path.Combine(inbox, "groups.csv")));
        Assert.DoesNotContain(FolderJournal.Read(Path.Combine(inbox, "journal.csv")), e => e.File == "groups.csv");

        File.Delete(Path.Combine(inbox, "broken.zip"));
        var import = Import(env, inbox);
        import.EntityName = "Customer groups";
        import.SourceFormat = "CSV-Unicode";
        var built = new Recorder<FolderImportResult>();
        await import.RunAsync(built.Callbacks(), None);

        Assert.Empty(built.Errors);
        Assert.Equal(FolderImportOutcome.Processed, Assert.Single(built.Results).Outcome);
        Assert.Equal("CUSTGROUP\r\n40\r\n", File.ReadAllText(Path.Combine(inbox, "processed", "groups.csv")));
        var execution = Assert.Single(env.Emulator.Packages.Executions);
        using var zip = new ZipArchive(env.Emulator.Blobs.OpenRead(execution.PackageBlob!)!);
        Assert.Equal(new[] { "Manifest.xml", "PackageHeader.xml", "groups.csv" }, zip.Entries.Select(e => e.FullName).OrderBy(n => n, StringComparer.Ordinal));
        using (var manifest = new StreamReader(zip.GetEntry("Manifest.xml")!.Open()))
            Assert.Contains("<EntityName>Customer groups</EntityName>", manifest.ReadToEnd());
    }

    [Fact]
    public async Task A_run_settles_what_a_killed_run_left_in_sending_by_asking_about_the_journalled_execution_id()
    {
        await using var env = await Emulated.StartAsync(o =>
        {
            o.ProcessingDelay = TimeSpan.FromMilliseconds(50);
            o.ExecutionNotFoundEvery = 0;
        });
        var inbox = Inbox(env);
        var sending = Path.Combine(inbox, "sending");
        Directory.CreateDirectory(sending);
        // started.zip: the import reached the service under its journalled id, the answer was never recorded.
        var started = Hash(AddPackage(env, sending, "started.zip", "CUSTGROUP\r\n50\r\n"));
        var packages = new DataPackageClient(env.Session);
        await new PackageJobs(packages).ImportAsync(new PackageImportRequest(Path.Combine(sending, "started.zip"), Project, "usmf") { ExecutionId = Guid.NewGuid().ToString("D") }, null, None);
        var startedId = Guid.Parse(Assert.Single(env.Emulator.Packages.Executions).ExecutionId);
        await Task.Delay(200); // the first import is final, so the service takes the next
        // uploading.zip: the run stopped before starting its import. vanished.zip: its journalled id never reached the service.
        var uploading = Hash(AddPackage(env, sending, "uploading.zip", "CUSTGROUP\r\n60\r\n"));
        var vanished = Hash(AddPackage(env, sending, "vanished.zip", "CUSTGROUP\r\n70\r\n"));
        var vanishedId = Guid.NewGuid();
        using (var journal = FolderJournal.Open(Path.Combine(inbox, "journal.csv")))
        {
            foreach (var name in new[] { "started.zip", "uploading.zip", "vanished.zip" })
                journal.Append(new JournalEntry { Event = JournalEvent.Sending, File = name, Path = Path.Combine(sending, name) });
            journal.Append(new JournalEntry { Event = JournalEvent.Importing, File = "started.zip", MessageId = startedId, Path = Path.Combine(sending, "started.zip") });
            journal.Append(new JournalEntry { Event = JournalEvent.Importing, File = "vanished.zip", MessageId = vanishedId, Path = Path.Combine(sending, "vanished.zip") });
        }
        var recorder = new Recorder<FolderImportResult>();
        var import = Import(env, inbox);
        import.StartGrace = TimeSpan.FromMilliseconds(200);

        await import.RunAsync(recorder.Callbacks(), None);

        var rows = recorder.Results.ToDictionary(r => r.FileName);
        Assert.Equal(FolderImportOutcome.Processed, rows["started.zip"].Outcome);
        Assert.Equal(startedId.ToString("D"), rows["started.zip"].ExecutionId);
        Assert.Equal(FolderImportOutcome.Processed, rows["uploading.zip"].Outcome);
        Assert.Equal(FolderImportOutcome.Unconfirmed, rows["vanished.zip"].Outcome);
        var (_, error) = Assert.Single(recorder.Errors);
        Assert.Equal("PackageOutcomeUnknown", error.ErrorId);
        Assert.Contains(vanishedId.ToString("D"), error.Message);
        Assert.Equal(1, ImportsOf(env, started));
        Assert.Equal(1, ImportsOf(env, uploading));
        Assert.Equal(0, ImportsOf(env, vanished));
        Assert.Empty(Directory.GetFiles(sending));
        var journalLines = FolderJournal.Read(Path.Combine(inbox, "journal.csv"));
        Assert.Contains(journalLines, e => e.File == "uploading.zip" && e.Event == JournalEvent.Returned);
        Assert.Contains(journalLines, e => e.File == "started.zip" && e.Event == JournalEvent.Sent && e.MessageId == startedId);
    }

    [Fact]
    public async Task Packages_go_one_at_a_time_and_those_behind_one_not_finished_in_time_wait_in_the_inbox()
    {
        await using var env = await Emulated.StartAsync(o => o.ProcessingDelay = TimeSpan.FromMilliseconds(300));
        var inbox = Inbox(env);
        foreach (var name in new[] { "1.zip", "2.zip", "3.zip" }) AddPackage(env, inbox, name, $"CUSTGROUP\r\n{name[0]}\r\n");
        var first = new Recorder<FolderImportResult>();
        var import = Import(env, inbox);
        import.Timeout = TimeSpan.Zero;

        await import.RunAsync(first.Callbacks(), None);

        Assert.Empty(first.Errors);
        var row = Assert.Single(first.Results);
        Assert.Equal(("1.zip", FolderImportOutcome.Pending), (row.FileName, row.Outcome));
        Assert.Contains(first.Warnings, w => w.Contains("2 file(s) wait in the inbox") && w.Contains("one package of a data project at a time"));
        Assert.True(File.Exists(Path.Combine(inbox, "2.zip")) && File.Exists(Path.Combine(inbox, "3.zip")));

        var second = new Recorder<FolderImportResult>();
        await Import(env, inbox).RunAsync(second.Callbacks(), None);

        Assert.Empty(second.Errors);
        var rows = second.Results.ToList();
        Assert.Equal(new[] { "1.zip", "2.zip", "3.zip" }, rows.Select(r => r.FileName));
        Assert.All(rows, r => Assert.Equal(FolderImportOutcome.Processed, r.Outcome));
        Assert.Equal(row.ExecutionId, rows[0].ExecutionId);
        var executions = env.Emulator.Packages.Executions;
        Assert.Equal(3, executions.Count);
        // Each import started after the one before had ended (the emulator ends an import after twice its delay).
        for (var i = 1; i < executions.Count; i++)
            Assert.True(executions[i].StartedAt - executions[i - 1].StartedAt >= TimeSpan.FromMilliseconds(600), $"import {i + 1} started while {i} ran");
    }
}

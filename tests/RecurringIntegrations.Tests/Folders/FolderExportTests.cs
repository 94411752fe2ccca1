using System;
using System.Diagnostics;
using System.IO;
using System.IO.Compression;
using System.Linq;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using RecurringIntegrations.Core.Folders;
using RecurringIntegrations.Core.Operations;
using RecurringIntegrations.Core.Model;
using RecurringIntegrations.Emulator;
using RecurringIntegrations.Tests.Support;
using Xunit;

namespace RecurringIntegrations.Tests.Folders;

public sealed class FolderExportTests
{
    private static readonly CancellationToken None = CancellationToken.None;

    private static FolderExport Export(Emulated env, string folder) => new(env.Session, env.Client, WellKnown.ExportActivity, folder);

    [Fact]
    public async Task Saves_and_acknowledges_every_message_and_journals_each()
    {
        await using var env = await Emulated.StartAsync();
        var queued = Enumerable.Range(0, 5).Select(i => env.Emulator.AddExportMessage(WellKnown.ExportActivity, $"e{i}.xml", Encoding.UTF8.GetBytes($"<e n=\"{i}\"/>"))).ToList();
        var folder = Path.Combine(env.Folder, "out");
        var recorder = new Recorder<FolderExportResult>();

        await Export(env, folder).RunAsync(recorder.Callbacks(), None);

        Assert.Empty(recorder.Errors);
        Assert.Equal(queued.OrderBy(i => i), recorder.Results.Select(r => r.CorrelationId).OrderBy(i => i));
        Assert.All(recorder.Results, r => Assert.True(r.Acknowledged && !r.AlreadySaved && File.Exists(r.Path)));
        Assert.Equal(queued.OrderBy(i => i), env.Emulator.State.Acknowledged.OrderBy(i => i));
        var journal = FolderJournal.Read(Path.Combine(folder, "journal.csv"));
        Assert.Equal(5, journal.Count(e => e.Event == JournalEvent.Saved));
        Assert.Equal(5, journal.Count(e => e.Event == JournalEvent.Acknowledged));
        Assert.Empty(Directory.GetFileSystemEntries(Path.Combine(folder, "receiving")));
    }

    [Fact]
    public async Task A_redelivered_message_already_saved_is_acknowledged_without_a_second_copy()
    {
        // Redelivery is switched on between the runs, not timed: a slow first run must not see its message come back.
        EmulatorOptions options = null!;
        await using var env = await Emulated.StartAsync(o => (options = o).RedeliveryTimeout = TimeSpan.FromHours(1));
        var id = env.Emulator.AddExportMessage(WellKnown.ExportActivity, "once.xml", "<once/>"u8.ToArray());
        // The first ack is refused, as if its answer were lost: the message comes back.
        env.Emulator.Faults.Add(new FaultRule { PathContains = "/api/connector/ack", Kind = FaultKind.Status, StatusCode = 400 });
        var folder = Path.Combine(env.Folder, "out");
        var first = new Recorder<FolderExportResult>();
        await Export(env, folder).RunAsync(first.Callbacks(), None);
        Assert.False(Assert.Single(first.Results).Acknowledged);
        Assert.Equal("DequeueAckFailed", Assert.Single(first.Errors).Error.ErrorId);

        options.RedeliveryTimeout = TimeSpan.Zero;
        var second = new Recorder<FolderExportResult>();
        await Export(env, folder).RunAsync(second.Callbacks(), None);

        var row = Assert.Single(second.Results);
        Assert.True(row.AlreadySaved && row.Acknowledged);
        Assert.Equal(Assert.Single(first.Results).Path, row.Path);
        Assert.Equal(new[] { id }, env.Emulator.State.Acknowledged);
        Assert.Equal(2, env.Emulator.State.DequeueCount(id));
        Assert.Single(Directory.GetFiles(folder), f => !Path.GetFileName(f).StartsWith("journal.csv"));
    }

    [Fact]
    public async Task A_message_whose_file_is_gone_is_journalled_Missing_once_then_warned_about_and_acknowledged_only_on_request()
    {
        EmulatorOptions options = null!;
        await using var env = await Emulated.StartAsync(o => (options = o).RedeliveryTimeout = TimeSpan.FromHours(1));
        var good = Enumerable.Range(0, 3).Select(i => env.Emulator.AddExportMessage(WellKnown.ExportActivity, $"g{i}.xml", Encoding.UTF8.GetBytes($"<g n=\"{i}\"/>"))).ToList();
        var gone = env.Emulator.AddExportMessage(WellKnown.ExportActivity, "gone.xml", "<gone/>"u8.ToArray());
        env.Emulator.State.MarkFileMissing(gone);
        var folder = Path.Combine(env.Folder, "out");
        var journalPath = Path.Combine(folder, "journal.csv");

        var first = new Recorder<FolderExportResult>();
        await Export(env, folder).RunAsync(first.Callbacks(), None);
        Assert.Equal(good.OrderBy(i => i), first.Results.Select(r => r.CorrelationId).OrderBy(i => i));
        var (target, error) = Assert.Single(first.Errors);
        Assert.Equal("ExportFileMissing", error.ErrorId);
        Assert.Equal(gone, Assert.IsType<DequeuedMessage>(target).CorrelationId);
        var missing = Assert.Single(FolderJournal.Read(journalPath), e => e.Event == JournalEvent.Missing);
        Assert.Equal(gone, missing.MessageId);
        Assert.Contains("was not found in storage", missing.Detail);
        Assert.DoesNotContain(gone, env.Emulator.State.Acknowledged);

        // It comes back (here at once): a later run warns instead of failing again, and journals nothing new.
        options.RedeliveryTimeout = TimeSpan.Zero;
        var second = new Recorder<FolderExportResult>();
        await Export(env, folder).RunAsync(second.Callbacks(), None);
        Assert.Empty(second.Errors);
        Assert.Empty(second.Results);
        Assert.Contains(second.Warnings, w => w.Contains(gone.ToString()) && w.Contains("-AcknowledgeMissing"));
        Assert.Single(FolderJournal.Read(journalPath), e => e.Event == JournalEvent.Missing);
        Assert.DoesNotContain(gone, env.Emulator.State.Acknowledged);

        var third = new Recorder<FolderExportResult>();
        var export = Export(env, folder);
        export.AcknowledgeMissing = true;
        await export.RunAsync(third.Callbacks(), None);
        Assert.Empty(third.Errors);
        Assert.Contains(third.Warnings, w => w.Contains(gone.ToString()) && w.Contains("acknowledged on purpose"));
        Assert.Contains(gone, env.Emulator.State.Acknowledged);
        var journal = FolderJournal.Read(journalPath);
        Assert.Single(journal, e => e.Event == JournalEvent.Missing);
        Assert.Single(journal, e => e.Event == JournalEvent.Acknowledged && e.MessageId == gone);
        Assert.Null(await env.Client.DequeueAsync(WellKnown.ExportActivity, None));
        Assert.Empty(Directory.GetFileSystemEntries(Path.Combine(folder, "receiving")));
    }

    [Fact]
    public async Task Expand_unpacks_a_package_into_a_folder_of_its_own()
    {
        await using var env = await Emulated.StartAsync();
        using var zip = new MemoryStream();
        using (var archive = new ZipArchive(zip, ZipArchiveMode.Create, leaveOpen: true))
        {
            foreach (var (name, text) in new[] { ("Manifest.xml", "<m/>"), ("PackageHeader.xml", "<h/>"), ("Customer groups.xml", "<rows/>") })
            {
                using var writer = new StreamWriter(archive.CreateEntry(name).Open());
                writer.Write(text);
            }
        }
        var id = env.Emulator.AddExportMessage(WellKnown.ExportActivity, "package.zip", zip.ToArray());
        var folder = Path.Combine(env.Folder, "out");
        var recorder = new Recorder<FolderExportResult>();

        await new FolderExport(env.Session, env.Client, WellKnown.ExportActivity, folder) { Expand = true }.RunAsync(recorder.Callbacks(), None);

        var row = Assert.Single(recorder.Results);
        Assert.True(row.Expanded && row.Acknowledged);
        Assert.Equal(Path.Combine(folder, id.ToString("D")), row.Path);
        Assert.Equal(new[] { "Customer groups.xml", "Manifest.xml", "PackageHeader.xml" }, Directory.GetFiles(row.Path).Select(Path.GetFileName).OrderBy(n => n, StringComparer.Ordinal));
        Assert.Equal("<rows/>", File.ReadAllText(Path.Combine(row.Path, "Customer groups.xml")));
        Assert.Empty(Directory.GetFiles(folder, "*.zip"));
    }

    [Fact]
    public async Task Messages_failing_in_a_row_stop_the_export_by_the_same_rule_as_Receive_D365Dequeue()
    {
        await using var env = await Emulated.StartAsync();
        for (var i = 0; i < 10; i++) env.Emulator.AddExportMessage(WellKnown.ExportActivity, $"x{i}.xml", "<x/>"u8.ToArray());
        env.Emulator.Faults.Add(new FaultRule { PathContains = "/api/connector/download", Kind = FaultKind.Status, StatusCode = 404, Times = -1 });
        var recorder = new Recorder<FolderExportResult>();

        await Export(env, Path.Combine(env.Folder, "out")).RunAsync(recorder.Callbacks(), None);

        Assert.Equal(QueueDrain.MaxConsecutiveFailures, recorder.Errors.Count);
        Assert.Equal($"{QueueDrain.MaxConsecutiveFailures} messages failed in a row; stopping. The messages not saved stay on the queue.", Assert.Single(recorder.Warnings));
        Assert.Empty(recorder.Results);
        // Nothing acknowledged: every message, the failed ones included, stays on the queue.
        Assert.Equal(10, env.Emulator.State.PendingExports(WellKnown.ExportActivity));
    }

    [Fact]
    public async Task A_full_disk_while_saving_leaves_no_file_and_no_ack()
    {
        Assert.True(OperatingSystem.IsLinux(), "the disk-full case is exercised on Linux, where a small tmpfs plays the full disk");
        var mountPoint = Directory.CreateTempSubdirectory("ri-folder-full-").FullName;
        Assert.Equal(0, Run("mount", $"-t tmpfs -o size=64k tmpfs {mountPoint}"));
        try
        {
            await using var env = await Emulated.StartAsync();
            env.Emulator.AddExportMessage(WellKnown.ExportActivity, "big.bin", new byte[512 * 1024]);
            var recorder = new Recorder<FolderExportResult>();

            await Export(env, mountPoint).RunAsync(recorder.Callbacks(), None);

            Assert.Empty(recorder.Results);
            Assert.Equal("DiskFull", recorder.Errors.First().Error.ErrorId);
            Assert.Empty(env.Emulator.State.Acknowledged);
            Assert.Equal(1, env.Emulator.State.PendingExports(WellKnown.ExportActivity));
            Assert.Equal(new[] { "journal.csv", "journal.csv.lock", "journal.csv.state" }, Directory.GetFiles(mountPoint).Select(Path.GetFileName).OrderBy(n => n));
            Assert.Empty(Directory.GetFileSystemEntries(Path.Combine(mountPoint, "receiving")));
        }
        finally
        {
            Run("umount", mountPoint);
        }
    }

    private static int Run(string file, string arguments)
    {
        using var process = Process.Start(new ProcessStartInfo(file, arguments) { RedirectStandardError = true })!;
        process.WaitForExit();
        return process.ExitCode;
    }
}

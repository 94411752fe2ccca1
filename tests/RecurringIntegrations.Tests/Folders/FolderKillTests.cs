using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Text;
using System.Threading.Tasks;
using RecurringIntegrations.Core.Folders;
using RecurringIntegrations.Core.Packages;
using System.Security.Cryptography;
using RecurringIntegrations.Emulator;
using RecurringIntegrations.Tests.Cmdlets;
using Xunit;
using Xunit.Abstractions;

namespace RecurringIntegrations.Tests.Folders;

/// <summary>
/// The folder workflows run in a separate process (tests/FolderKill) that is SIGKILLed at random moments, against an
/// emulator with latency that lives in this process and so keeps the service's books across the kills.
/// </summary>
public sealed class FolderKillTests
{
    private const int Files = 200;
    private const int Kills = 20;
    private const int Throttle = 2;
    private readonly ITestOutputHelper _output;

    public FolderKillTests(ITestOutputHelper output) => _output = output;

    [Fact]
    public async Task Import_killed_at_20_random_moments_sends_every_file_once_or_parks_it_in_unconfirmed()
    {
        var watch = Stopwatch.StartNew();
        await using var emulator = await D365Emulator.StartAsync(new EmulatorOptions { UseHttps = false, ProcessingDelay = TimeSpan.FromMilliseconds(100) });
        // The issue's runbook: 100 ms per upload.
        emulator.Faults.Add(new FaultRule { PathContains = "/api/connector/enqueue", Kind = FaultKind.Delay, Delay = TimeSpan.FromMilliseconds(100), Times = -1 });
        var inbox = Directory.CreateTempSubdirectory("ri-kill-import-").FullName;
        var contents = new Dictionary<string, string>();
        for (var i = 0; i < Files; i++)
        {
            var name = $"import-{i:D3}.csv";
            contents[name] = i % 10 == 7 ? $"CUSTOMERGROUPID\nEMULATOR-ERROR: group {i} is wrong\n" : $"CUSTOMERGROUPID\nG{i}\n";
            File.WriteAllText(Path.Combine(inbox, name), contents[name]);
        }
        try
        {
            var (kills, finished) = await KillRepeatedlyAsync("import", inbox, emulator, WellKnown.ImportActivity, maxDelayMs: 700);
            var last = await RunToEndAsync("import", inbox, emulator, WellKnown.ImportActivity);

            // Where every file ended, by content.
            var located = new Dictionary<string, string>();
            foreach (var folder in new[] { FolderImport.ProcessedFolder, FolderImport.FailedFolder, FolderImport.UnconfirmedFolder })
                foreach (var file in Directory.GetFiles(Path.Combine(inbox, folder)).Where(f => !f.EndsWith(FolderImport.ErrorFileSuffix)))
                {
                    var name = Path.GetFileName(file);
                    Assert.True(contents.ContainsKey(name), $"unexpected file {file}");
                    Assert.Equal(contents[name], File.ReadAllText(file));
                    Assert.True(located.TryAdd(name, folder), $"{name} is in {located.GetValueOrDefault(name)} and in {folder}");
                }
            Assert.Equal(contents.Keys.OrderBy(n => n), located.Keys.OrderBy(n => n));
            Assert.Empty(Directory.GetFiles(Path.Combine(inbox, FolderImport.SendingFolder)));
            Assert.Empty(Directory.GetFiles(Path.Combine(inbox, FolderImport.PendingFolder)));
            Assert.Equal(new[] { "journal.csv", "journal.csv.lock", "journal.csv.state" }, Directory.GetFiles(inbox).Select(Path.GetFileName).OrderBy(n => n));

            // The service's books: never twice; exactly once unless the file is in 'unconfirmed'.
            var onService = emulator.State.Enqueued.GroupBy(m => m.ExternalIdentifier!).ToDictionary(g => g.Key, g => g.ToList());
            foreach (var (name, messages) in onService)
            {
                Assert.Single(messages);
                Assert.Equal(contents[name], Encoding.UTF8.GetString(messages[0].Content!));
            }
            var unconfirmed = located.Where(l => l.Value == FolderImport.UnconfirmedFolder).Select(l => l.Key).ToList();
            foreach (var name in contents.Keys.Except(unconfirmed)) Assert.True(onService.ContainsKey(name), $"{name} never reached the service");
            Assert.InRange(unconfirmed.Count, 0, kills * Throttle);

            // The journal agrees with the folders and with the service.
            var journal = FolderJournal.Read(Path.Combine(inbox, "journal.csv"));
            foreach (var name in contents.Keys)
            {
                var lines = journal.Where(e => e.File == name).ToList();
                var final = lines.Last();
                Assert.Equal(located[name], final.Event.ToString().ToLowerInvariant());
                Assert.Equal(Path.Combine(inbox, located[name], name), final.Path);
                var sent = lines.Where(e => e.Event == JournalEvent.Sent).ToList();
                Assert.True(sent.Count <= 1, $"{name} journalled as sent {sent.Count} times");
                if (located[name] != FolderImport.UnconfirmedFolder)
                    Assert.Equal(onService[name][0].MessageId, Assert.Single(sent).MessageId);
                var expected = located[name] switch { "processed" => "Processed", "failed" => "ProcessedWithErrors", _ => null };
                if (expected != null) Assert.Equal(expected, onService[name][0].Status);
            }

            _output.WriteLine($"import: {Files} files, {kills} kills (SIGKILL), {finished} run(s) ended before their kill, then a last run ({last} rows)");
            _output.WriteLine($"import: processed {located.Count(l => l.Value == "processed")}, failed {located.Count(l => l.Value == "failed")}, " +
                              $"unconfirmed {unconfirmed.Count} ({unconfirmed.Count(onService.ContainsKey)} of them on the service), " +
                              $"service messages {emulator.State.Enqueued.Count}, duplicates 0, lost 0, journal lines {journal.Count}, {watch.Elapsed.TotalSeconds:0.0} s");
        }
        finally
        {
            Directory.Delete(inbox, recursive: true);
        }
    }

    [Fact]
    public async Task Export_killed_at_20_random_moments_saves_every_message_once_and_acknowledges_it()
    {
        var watch = Stopwatch.StartNew();
        var redelivery = TimeSpan.FromSeconds(1.5);
        await using var emulator = await D365Emulator.StartAsync(new EmulatorOptions { UseHttps = false, RedeliveryTimeout = redelivery });
        emulator.Faults.Add(new FaultRule { PathContains = "/api/connector/", Kind = FaultKind.Delay, Delay = TimeSpan.FromMilliseconds(15), Times = -1 });
        var contents = new Dictionary<Guid, string>();
        for (var i = 0; i < Files; i++)
        {
            var content = $"<Export n=\"{i}\">{new string('x', i * 37)}</Export>";
            contents[emulator.AddExportMessage(WellKnown.ExportActivity, $"export-{i:D3}.xml", Encoding.UTF8.GetBytes(content))] = content;
        }
        var folder = Directory.CreateTempSubdirectory("ri-kill-export-").FullName;
        try
        {
            var (kills, finished) = await KillRepeatedlyAsync("export", folder, emulator, WellKnown.ExportActivity, maxDelayMs: 500);
            // What the killed runs took off the queue comes back after the redelivery timeout.
            await Task.Delay(redelivery + TimeSpan.FromMilliseconds(300));
            var last = await RunToEndAsync("export", folder, emulator, WellKnown.ExportActivity);

            Assert.Equal(0, emulator.State.PendingExports(WellKnown.ExportActivity));
            Assert.Equal(contents.Keys.OrderBy(k => k), emulator.State.Acknowledged.OrderBy(k => k));
            var saved = Directory.GetFiles(folder).Where(f => !Path.GetFileName(f).StartsWith("journal.csv")).ToList();
            Assert.Equal(Files, saved.Count);
            Assert.Empty(Directory.GetFileSystemEntries(Path.Combine(folder, FolderExport.Receiving)));
            var byContent = saved.GroupBy(File.ReadAllText).ToDictionary(g => g.Key, g => g.ToList());
            foreach (var (id, content) in contents)
                Assert.True(byContent.TryGetValue(content, out var copies) && copies.Count == 1, $"message {id} saved {byContent.GetValueOrDefault(content)?.Count ?? 0} times");

            var journal = FolderJournal.Read(Path.Combine(folder, "journal.csv"));
            foreach (var (id, content) in contents)
            {
                var savedLine = Assert.Single(journal, e => e.Event == JournalEvent.Saved && e.MessageId == id);
                Assert.Equal(content, File.ReadAllText(savedLine.Path));
            }
            var redelivered = emulator.State.DequeueCounts.Count(c => c.Value > 1);
            _output.WriteLine($"export: {Files} messages, {kills} kills (SIGKILL), {finished} run(s) ended before their kill, then a last run ({last} rows)");
            _output.WriteLine($"export: saved {saved.Count} files, acknowledged {emulator.State.Acknowledged.Count}, redelivered {redelivered} " +
                              $"(max {emulator.State.DequeueCounts.Values.Max()} deliveries of one), journalled acks {journal.Count(e => e.Event == JournalEvent.Acknowledged)}, " +
                              $"duplicates 0, lost 0, {watch.Elapsed.TotalSeconds:0.0} s");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    /// <summary>
    /// The issue's must-show: a package inbox of 5 zips, the process SIGKILLed mid-run and run again, each package imported
    /// exactly once. The two kills hit the two moments that matter: while a package's blob upload is under way (its import
    /// never started: it goes back to the inbox), and once the service has started an import whose answer never reached
    /// the process (its journalled execution id is asked about and the import goes on, not started again).
    /// </summary>
    [Fact]
    public async Task Package_inbox_killed_during_an_upload_and_after_an_import_started_imports_each_package_exactly_once()
    {
        await using var emulator = await D365Emulator.StartAsync(new EmulatorOptions { UseHttps = false, ProcessingDelay = TimeSpan.FromMilliseconds(100) });
        var inbox = Directory.CreateTempSubdirectory("ri-kill-packages-").FullName;
        var data = Directory.CreateTempSubdirectory("ri-kill-packages-data-").FullName;
        var hashes = new Dictionary<string, string>();
        for (var i = 1; i <= 5; i++)
        {
            var csv = Path.Combine(data, $"groups-{i}.csv");
            File.WriteAllText(csv, $"CUSTGROUP\r\n{i}0\r\n");
            var zip = DataPackages.Create(new DataPackageRequest(new[] { new PackageEntity(csv) { EntityName = "Customer groups", SourceFormat = "CSV-Unicode" } },
                Path.Combine(inbox, $"package-{i}.zip"))).FullName;
            hashes[Path.GetFileName(zip)] = Hash(zip);
        }
        Process Run() => Start("package", inbox, emulator, "Customer groups import", "usmf");
        try
        {
            // Kill 1: the second package's upload hangs on the storage; the process dies in it.
            emulator.Faults.Add(new FaultRule { Operation = "PutBlob", Kind = FaultKind.Delay, Delay = TimeSpan.FromSeconds(60), SkipFirst = 1 });
            await KillWhenAsync(Run(), () => emulator.Faults.Hits == 1);
            Assert.Single(emulator.Packages.Executions);

            // Kill 2: the service starts the third import but its answer is held back; the process dies waiting for it.
            emulator.Faults.Clear();
            emulator.Faults.Add(new FaultRule { PathContains = "ImportFromPackageAsync", Kind = FaultKind.SlowBody, Delay = TimeSpan.FromSeconds(60), SkipFirst = 1 });
            await KillWhenAsync(Run(), () => emulator.Packages.Executions.Count == 3);
            var held = emulator.Packages.Executions.Last();

            emulator.Faults.Clear();
            await RunToEndAsync(Run());

            foreach (var name in hashes.Keys) Assert.True(File.Exists(Path.Combine(inbox, FolderImport.ProcessedFolder, name)), $"{name} is processed");
            Assert.Empty(Directory.GetFiles(Path.Combine(inbox, FolderImport.SendingFolder)));
            Assert.Empty(Directory.GetFiles(Path.Combine(inbox, FolderImport.UnconfirmedFolder)));
            // The service's books: five imports, one of each package.
            var executions = emulator.Packages.Executions;
            Assert.Equal(5, executions.Count);
            var imported = executions.Select(e =>
            {
                using var blob = emulator.Blobs.OpenRead(e.PackageBlob!)!;
                return Convert.ToHexString(SHA256.HashData(blob));
            }).ToList();
            Assert.Equal(hashes.Values.OrderBy(h => h), imported.OrderBy(h => h));
            // The journal: package-2 went back to the inbox once; package-3's held import went on under its first execution id.
            var journal = FolderJournal.Read(Path.Combine(inbox, "journal.csv"));
            Assert.Single(journal, e => e.File == "package-2.zip" && e.Event == JournalEvent.Returned);
            var third = journal.Where(e => e.File == "package-3.zip").ToList();
            Assert.Equal(new[] { JournalEvent.Sending, JournalEvent.Importing, JournalEvent.Sent, JournalEvent.Processed }, third.Select(e => e.Event));
            Assert.All(third.Skip(1), e => Assert.Equal(Guid.Parse(held.ExecutionId), e.MessageId));
            foreach (var name in hashes.Keys)
                Assert.Single(journal, e => e.File == name && e.Event == JournalEvent.Importing && e.MessageId.HasValue &&
                                            executions.Any(x => x.ExecutionId == e.MessageId.Value.ToString("D")));
            _output.WriteLine($"package inbox: 5 packages, 2 kills (SIGKILL), {executions.Count} imports on the service, journal lines {journal.Count}");
        }
        finally
        {
            Directory.Delete(inbox, recursive: true);
            Directory.Delete(data, recursive: true);
        }
    }

    private static string Hash(string path) => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(path)));

    /// <summary>SIGKILLs the process once the condition holds (checked every 10 ms, for at most a minute).</summary>
    private static async Task KillWhenAsync(Process started, Func<bool> condition)
    {
        using var process = started;
        var output = new System.Collections.Concurrent.ConcurrentQueue<string>();
        process.OutputDataReceived += (_, e) => { if (e.Data != null) output.Enqueue(e.Data); };
        process.BeginOutputReadLine();
        var patience = Stopwatch.StartNew();
        while (!condition())
        {
            if (process.HasExited) Assert.Fail($"the run ended before the moment to kill it: {string.Join(" | ", output)} {process.StandardError.ReadToEnd()}");
            Assert.True(patience.Elapsed < TimeSpan.FromMinutes(1), $"the moment to kill the run never came: {string.Join(" | ", output)}");
            await Task.Delay(10);
        }
        process.Kill();
        await process.WaitForExitAsync();
    }

    private async Task<(int Kills, int Finished)> KillRepeatedlyAsync(string mode, string folder, D365Emulator emulator, Guid activity, int maxDelayMs)
    {
        var seed = Environment.TickCount;
        _output.WriteLine($"{mode}: random seed {seed}");
        var random = new Random(seed);
        int kills = 0, finished = 0;
        for (var round = 0; round < Kills; round++)
        {
            using var process = Start(mode, folder, emulator, activity);
            var running = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            process.OutputDataReceived += (_, e) => { if (e.Data == "running") running.TrySetResult(); };
            process.BeginOutputReadLine();
            var exited = process.WaitForExitAsync();
            await Task.WhenAny(running.Task, exited).WaitAsync(TimeSpan.FromSeconds(60));
            await Task.Delay(random.Next(0, maxDelayMs));
            if (process.HasExited)
            {
                finished++;
                continue;
            }
            // Process.Kill is SIGKILL on Unix (TerminateProcess on Windows): no finally block, no flush, no goodbye.
            process.Kill();
            await process.WaitForExitAsync();
            kills++;
        }
        return (kills, finished);
    }

    private static Task<int> RunToEndAsync(string mode, string folder, D365Emulator emulator, Guid activity) =>
        RunToEndAsync(Start(mode, folder, emulator, activity));

    private static async Task<int> RunToEndAsync(Process started)
    {
        using var process = started;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(120));
        var lines = (await output).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(process.ExitCode == 0, $"the last run failed: {await errors}");
        Assert.Equal("done", lines.Last().Trim());
        return lines.Count(l => l.StartsWith("row "));
    }

    private static Process Start(string mode, string folder, D365Emulator emulator, Guid activity) =>
        Start(mode, folder, emulator, activity.ToString(), Throttle.ToString());

    private static Process Start(string mode, string folder, D365Emulator emulator, string job, string last)
    {
        var configuration = AppContext.BaseDirectory.Contains($"{Path.DirectorySeparatorChar}Release{Path.DirectorySeparatorChar}") ? "Release" : "Debug";
        var program = Path.Combine(BuiltModule.RepositoryRoot, "tests", "FolderKill", "bin", configuration, "net10.0", "FolderKill.dll");
        Assert.True(File.Exists(program), $"{program} is built with the tests");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in new[] { program, mode, folder, emulator.Environment, emulator.Options.TenantId, emulator.Options.ClientId,
                     emulator.Options.ClientSecret, job, last })
            start.ArgumentList.Add(argument);
        return Process.Start(start)!;
    }
}

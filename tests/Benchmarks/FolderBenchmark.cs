using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using RecurringIntegrations.Core.Api;
using RecurringIntegrations.Core.Errors;
using RecurringIntegrations.Core.Folders;
using RecurringIntegrations.Core.Model;
using RecurringIntegrations.Core.Operations;

namespace RecurringIntegrations.Benchmarks;

/// <summary>
/// The folder workflows over time and at scale (issue 25 items 2, 3 and 6), each against the emulator in its own process:
/// --journal   a run with nothing new over 1,000,000 journal lines against one over an empty history (time and memory);
/// --polling   10 new files beside 2,000 processed: how soon the run has them settled;
/// --scale     an inbox of 2,000 and of 10,000 files, and a drain of as many exports: time per file and peak memory.
/// The runs whose memory is reported are made in a child process of their own (this program with --folder-child), so the
/// peak working set is that of a process doing only the module's work.
/// </summary>
internal static class FolderBenchmark
{
    private const long MB = 1024 * 1024;
    private const int HistoryLines = 1_000_000;
    private const int EmptyRuns = 101;

    private const string Usage = """
        Folder benchmarks (issue 25): the journal over a long history, status polling, and 10,000-file folders.

        dotnet run -c Release --project tests/Benchmarks -- --journal | --polling | --scale | --folders (all three) [--work DIR]
        """;

    public static async Task<int> RunAsync(string[] args)
    {
        if (args[0] == "--folder-child") return await ChildAsync(args[1..]);
        var journal = args[0] is "--journal" or "--folders";
        var polling = args[0] is "--polling" or "--folders";
        var scale = args[0] is "--scale" or "--folders";
        var workRoot = Path.GetTempPath();
        for (var i = 1; i < args.Length; i++)
        {
            if (args[i] == "--work" && i + 1 < args.Length) workRoot = args[++i];
            else
            {
                Console.Error.WriteLine($"Unknown or incomplete option {args[i]}.");
                Console.Error.WriteLine(Usage);
                return 2;
            }
        }
        using var cancellation = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            cancellation.Cancel();
        };
        var report = new Report();
        var total = Stopwatch.StartNew();
        var work = Path.Combine(workRoot, "ri-folders-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(work);
        try
        {
            report.Note($"Folder benchmarks: {Environment.ProcessorCount} cores, .NET {Environment.Version}, {Environment.OSVersion}");
            if (journal) await JournalAsync(report, work, cancellation.Token);
            if (polling) await PollingAsync(report, work, cancellation.Token);
            if (scale) await ScaleAsync(report, work, cancellation.Token);
        }
        catch (OperationCanceledException) when (cancellation.IsCancellationRequested)
        {
            Console.Error.WriteLine("Cancelled.");
            return 130;
        }
        finally
        {
            try
            {
                Directory.Delete(work, recursive: true);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                Console.Error.WriteLine($"Could not delete '{work}': {e.Message}");
            }
        }
        report.Summary(total.Elapsed);
        return report.AllPassed ? 0 : 1;
    }

    // ---- item 2: the journal ----

    private static async Task JournalAsync(Report report, string work, CancellationToken cancellationToken)
    {
        await using var emulator = await EmulatorProcess.StartAsync(work, null, cancellationToken);
        var empty = Directory.CreateDirectory(Path.Combine(work, "journal-empty")).FullName;
        var emptyAlone = await ChildRunAsync(emulator, "import", empty, EmptyRuns, 8, cancellationToken);

        // A year of daily runs at about 2,700 lines a day, as one journal of an older version left it (no state file).
        var year = Directory.CreateDirectory(Path.Combine(work, "journal-year")).FullName;
        WriteHistory(Path.Combine(year, "journal.csv"), DateTimeOffset.Now.AddDays(-366), DateTimeOffset.Now.AddDays(-1));
        var migration = await ChildRunAsync(emulator, "import", year, 1, 8, cancellationToken);
        var yearAlone = await ChildRunAsync(emulator, "import", year, EmptyRuns, 8, cancellationToken);

        // The same number of lines all in this month: nothing is set aside, the state and the journal's end are read.
        var month = Directory.CreateDirectory(Path.Combine(work, "journal-month")).FullName;
        var firstOfMonth = new DateTimeOffset(DateTimeOffset.Now.Year, DateTimeOffset.Now.Month, 1, 0, 0, 1, DateTimeOffset.Now.Offset);
        WriteHistory(Path.Combine(month, "journal.csv"), firstOfMonth, DateTimeOffset.Now.AddMinutes(-1));
        await ChildRunAsync(emulator, "import", month, 1, 8, cancellationToken);
        var monthAlone = await ChildRunAsync(emulator, "import", month, EmptyRuns, 8, cancellationToken);

        // The times: the three folders taking turns in one process. The memory: each folder's own process above.
        var turns = await ChildRunAsync(emulator, "import", string.Join(Path.PathSeparator, empty, year, month), EmptyRuns, 8, cancellationToken);
        var emptyTime = turns.Median;
        report.Figure($"import run, nothing new, empty history (median of {EmptyRuns} runs)", $"{emptyTime:0.000} ms, peak working set {Megabytes(emptyAlone.PeakWorkingSet)} MB");
        report.Figure($"first run over {HistoryLines:N0} lines of an older version (read once, set aside)", $"{migration.Median:0} ms, peak working set {Megabytes(migration.PeakWorkingSet)} MB");
        foreach (var (name, times, alone) in new[] { ("a year's journal, set aside by month", turns.Others[0], yearAlone), ("all in this month's journal", turns.Others[1], monthAlone) })
        {
            var median = ChildResult.MedianOf(times);
            var time = median / emptyTime;
            var memory = (double)alone.PeakWorkingSet / emptyAlone.PeakWorkingSet;
            report.Target($"import run, nothing new, {HistoryLines:N0} lines ({name})", $"{median:0.000} ms = {time:0.00}x empty", "<= 1.2x empty", time <= 1.2);
            report.Target("  peak working set of that process", $"{Megabytes(alone.PeakWorkingSet)} MB = {memory:0.00}x empty", "<= 1.2x empty", memory <= 1.2);
        }
    }

    /// <summary>Sending, Sent and Processed lines of files one after another, their dates spread evenly from <paramref name="from"/> to <paramref name="to"/>.</summary>
    private static void WriteHistory(string path, DateTimeOffset from, DateTimeOffset to)
    {
        var events = new[] { "Sending", "Sent", "Processed" };
        var folder = Path.GetDirectoryName(path)!;
        using var writer = new StreamWriter(path, false, new UTF8Encoding(true), 1 << 20) { NewLine = "\r\n" };
        writer.WriteLine("\"Date\",\"Event\",\"File\",\"MessageId\",\"Status\",\"Path\",\"Length\",\"ErrorCount\",\"Expanded\",\"Detail\"");
        var step = (to - from).Ticks / HistoryLines;
        for (var line = 0; line < HistoryLines; line++)
        {
            var file = $"orders-{line / 3:D7}.csv";
            var @event = events[line % 3];
            var date = from.AddTicks(step * line).ToString("yyyy-MM-dd'T'HH:mm:ss.fffzzz", CultureInfo.InvariantCulture);
            var id = @event == "Sending" ? "" : new Guid(line / 3, 0, 0, new byte[8]).ToString("D");
            var state = @event switch { "Sending" => "sending", "Sent" => "sending", _ => "processed" };
            var status = @event == "Processed" ? "Processed" : "";
            writer.WriteLine($"\"{date}\",\"{@event}\",\"{file}\",\"{id}\",\"{status}\",\"{Path.Combine(folder, state, file)}\",\"\",\"\",\"\",\"\"");
        }
        // On disk before any run is timed: 200 MB still being written back would slow the runs' own flushes.
        writer.Flush();
        ((FileStream)writer.BaseStream).Flush(true);
    }

    // ---- item 3: polling ----

    private static async Task PollingAsync(Report report, string work, CancellationToken cancellationToken)
    {
        // The emulator answers Processed 2 x the processing delay after the upload: 0.5 s, as the issue's service did.
        const int delayMs = 250;
        var processing = TimeSpan.FromMilliseconds(2 * delayMs);
        await using var emulator = await EmulatorProcess.StartAsync(work, null, cancellationToken, "--processing-delay-ms", delayMs.ToString(CultureInfo.InvariantCulture));
        using var session = await emulator.ConnectAsync(cancellationToken);
        var client = new D365Client(session);
        var inbox = Path.Combine(work, "polling");
        TestFiles.CreateSmall(inbox, 2000, 1);
        var first = await ImportAsync(session, client, emulator.ImportActivity, inbox, 8, cancellationToken);
        if (first.Processed != 2000) throw new InvalidOperationException($"The first run processed {first.Processed} of 2000 files.");

        var added = TestFiles.CreateSmall(Path.Combine(work, "polling-new"), 10, 1);
        foreach (var file in added) File.Move(file, Path.Combine(inbox, "new-" + Path.GetFileName(file)));
        var run = await ImportAsync(session, client, emulator.ImportActivity, inbox, 8, cancellationToken);
        if (run.Processed != 10) throw new InvalidOperationException($"The run processed {run.Processed} of 10 new files.");
        var floor = processing + run.Upload;
        report.Figure("10 new files beside 2,000 processed: upload (run start to the last Sent line)", $"{run.Upload.TotalSeconds:0.00} s");
        report.Target("  settled (whole run, -PollIntervalSeconds 15, -SettleSeconds 0)",
            $"{run.Wall.TotalSeconds:0.00} s = {run.Wall / floor:0.00}x (0.5 s processing + upload)", "<= 2x", run.Wall <= 2 * floor);
        report.Figure("  calls of that run: 10 uploads and the status calls (emulator's count)", $"{run.Calls}");
    }

    private sealed record ImportRun(TimeSpan Wall, TimeSpan Upload, int Processed, int Calls);

    /// <summary>Invoke-D365FolderImport's Core with the cmdlet's default poll interval and no settle wait.</summary>
    private static async Task<ImportRun> ImportAsync(Core.Connection.D365Session session, D365Client client, Guid activity, string inbox, int throttle,
        CancellationToken cancellationToken)
    {
        var processed = 0;
        var errors = new List<string>();
        var callsBefore = await CallsAsync(session, cancellationToken);
        var started = DateTimeOffset.Now;
        var watch = Stopwatch.StartNew();
        await new FolderImport(session, client, activity, inbox)
        {
            EntityName = "Benchmark", ThrottleLimit = throttle, Settle = TimeSpan.Zero, PollInterval = TimeSpan.FromSeconds(15), Timeout = TimeSpan.FromMinutes(10),
        }.RunAsync(new OperationCallbacks<FolderImportResult>
        {
            Result = row => { if (row.Outcome == FolderImportOutcome.Processed) Interlocked.Increment(ref processed); },
            Error = (target, error) => { lock (errors) errors.Add($"{target}: {error.Message}"); },
        }, cancellationToken);
        watch.Stop();
        if (errors.Count > 0) throw new InvalidOperationException("The import failed: " + errors[0]);
        var lastSent = FolderJournal.Read(Path.Combine(inbox, "journal.csv")).Where(e => e.Event == JournalEvent.Sent && e.Date >= started).Select(e => e.Date).DefaultIfEmpty(started).Max();
        return new ImportRun(watch.Elapsed, lastSent - started, processed, await CallsAsync(session, cancellationToken) - callsBefore);
    }

    private static async Task<int> CallsAsync(Core.Connection.D365Session session, CancellationToken cancellationToken)
    {
        using var http = new System.Net.Http.HttpClient(new System.Net.Http.HttpClientHandler { ServerCertificateCustomValidationCallback = (_, _, _, _) => true });
        var stats = await http.GetStringAsync(session.Environment + "/emulator/stats", cancellationToken);
        using var json = System.Text.Json.JsonDocument.Parse(stats);
        foreach (var property in json.RootElement.EnumerateObject())
            if (property.Name.Equals("calls", StringComparison.OrdinalIgnoreCase)) return property.Value.GetInt32();
        return -1;
    }

    // ---- item 6: scale ----

    private static async Task ScaleAsync(Report report, string work, CancellationToken cancellationToken)
    {
        var results = new Dictionary<(string Kind, int Files), ChildResult>();
        foreach (var files in new[] { 2000, 10000 })
        {
            var source = Path.Combine(work, $"scale-{files}");
            TestFiles.CreateSmall(source, files, 10);
            await using (var emulator = await EmulatorProcess.StartAsync(work, null, cancellationToken, "--processing-delay-ms", "100"))
            {
                var inbox = Path.Combine(work, $"scale-inbox-{files}");
                Directory.Move(source, inbox);
                results[("import", files)] = await ChildRunAsync(emulator, "import", inbox, 1, 8, cancellationToken);
                if (Directory.GetFiles(Path.Combine(inbox, FolderImport.ProcessedFolder)).Length != files)
                    throw new InvalidOperationException($"The import of {files} files did not process them all.");
                Directory.Move(Path.Combine(inbox, FolderImport.ProcessedFolder), source);
                Directory.Delete(inbox, recursive: true);
            }
            await using (var emulator = await EmulatorProcess.StartAsync(work, source, cancellationToken))
            {
                var folder = Path.Combine(work, $"scale-export-{files}");
                results[("export", files)] = await ChildRunAsync(emulator, "export", folder, 1, 8, cancellationToken);
                if (results[("export", files)].Rows != files) throw new InvalidOperationException($"The export saved {results[("export", files)].Rows} of {files} messages.");
                Directory.Delete(folder, recursive: true);
            }
            Directory.Delete(source, recursive: true);
        }
        foreach (var kind in new[] { "import", "export" })
        {
            var (small, large) = (results[(kind, 2000)], results[(kind, 10000)]);
            var name = kind == "import" ? "folder import (upload, wait for Processed, sort)" : "folder export (dequeue, download, journal, ack)";
            report.Figure($"{name}, 2,000 files", $"{small.Median / 1000:0.0} s = {small.Median / 2000:0.00} ms a file, peak working set {Megabytes(small.PeakWorkingSet)} MB");
            report.Figure($"{name}, 10,000 files", $"{large.Median / 1000:0.0} s = {large.Median / 10000:0.00} ms a file, peak working set {Megabytes(large.PeakWorkingSet)} MB");
            var ratio = large.Median / small.Median;
            report.Target($"  {kind}: 10,000 files against 2,000", $"{ratio:0.00}x the time", "<= 5.5x", ratio <= 5.5);
            report.Target($"  {kind}: peak working set, 10,000 files", $"{Megabytes(large.PeakWorkingSet)} MB", "< 300 MB", large.PeakWorkingSet < 300 * MB);
        }
    }

    // ---- the child process ----

    private sealed record ChildResult(List<double> Milliseconds, long PeakWorkingSet, int Rows)
    {
        /// <summary>The run times of the other folders of an interleaved child, in the order given.</summary>
        public List<List<double>> Others { get; init; } = new();

        public static double MedianOf(List<double> milliseconds) => new ChildResult(milliseconds, 0, 0).Median;

        public double Median
        {
            get
            {
                var sorted = Milliseconds.OrderBy(m => m).ToList();
                return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
            }
        }
    }

    private static async Task<ChildResult> ChildRunAsync(EmulatorProcess emulator, string kind, string folder, int runs, int throttle, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        foreach (var argument in new[]
                 {
                     typeof(FolderBenchmark).Assembly.Location, "--folder-child", kind, folder, emulator.Environment, emulator.AuthorityHost, emulator.TenantId,
                     emulator.ClientId, emulator.ClientSecret, (kind == "import" ? emulator.ImportActivity : emulator.ExportActivity).ToString("D"),
                     runs.ToString(CultureInfo.InvariantCulture), throttle.ToString(CultureInfo.InvariantCulture),
                 })
            start.ArgumentList.Add(argument);
        using var process = Process.Start(start) ?? throw new InvalidOperationException("The child did not start.");
        var folders = folder.Split(Path.PathSeparator).Length;
        var times = Enumerable.Range(0, folders).Select(_ => new List<double>()).ToList();
        long peak = 0;
        var rows = 0;
        string? line;
        while ((line = await process.StandardOutput.ReadLineAsync(cancellationToken)) != null)
        {
            var parts = line.Split(' ');
            switch (parts[0])
            {
                case "run": times[int.Parse(parts[2], CultureInfo.InvariantCulture)].Add(double.Parse(parts[1], CultureInfo.InvariantCulture)); break;
                case "peak": peak = long.Parse(parts[1], CultureInfo.InvariantCulture); break;
                case "rows": rows = int.Parse(parts[1], CultureInfo.InvariantCulture); break;
                default: Console.WriteLine("  child: " + line); break;
            }
        }
        await process.WaitForExitAsync(cancellationToken);
        if (process.ExitCode != 0 || times.Any(t => t.Count != runs))
            throw new InvalidOperationException($"The {kind} child ended with exit code {process.ExitCode} after {times.Sum(t => t.Count)} of {runs * folders} runs.");
        return new ChildResult(times[0], peak, rows) { Others = times.Skip(1).ToList() };
    }

    /// <summary>
    /// --folder-child import|export FOLDER ENVIRONMENT AUTHORITY TENANT CLIENT SECRET ACTIVITY RUNS THROTTLE: connects, makes
    /// the runs one after another, prints "run MS" for each, "rows N" and "peak BYTES" (this process's peak working set).
    /// </summary>
    private static async Task<int> ChildAsync(string[] args)
    {
        var secret = new System.Security.SecureString();
        foreach (var c in args[6]) secret.AppendChar(c);
        var options = new Core.Connection.ConnectionOptions(args[2], new Core.Authentication.ClientSecretCredential(args[4], args[5], secret))
        {
            AuthorityHost = new Uri(args[3]),
            SkipCertificateCheck = true,
        };
        using var session = await Core.Connection.D365Session.ConnectAsync(options, CancellationToken.None);
        var client = new D365Client(session);
        var activity = Guid.Parse(args[7]);
        var runs = int.Parse(args[8], CultureInfo.InvariantCulture);
        var throttle = int.Parse(args[9], CultureInfo.InvariantCulture);
        var rows = 0;
        var errors = 0;
        void Error(object target, D365Exception error)
        {
            if (Interlocked.Increment(ref errors) <= 5) Console.WriteLine($"error {error.ErrorId}: {target}: {error.Message}");
        }
        // Several folders (separated by the path separator) take turns, so a busy moment of the machine falls on each alike.
        var folders = args[1].Split(Path.PathSeparator);
        for (var i = 0; i < runs * folders.Length; i++)
        {
            var folder = folders[i % folders.Length];
            var watch = Stopwatch.StartNew();
            if (args[0] == "import")
                await new FolderImport(session, client, activity, folder)
                {
                    EntityName = "Benchmark", ThrottleLimit = throttle, Settle = TimeSpan.Zero, PollInterval = TimeSpan.FromSeconds(15), Timeout = TimeSpan.FromMinutes(30),
                }.RunAsync(new OperationCallbacks<FolderImportResult> { Result = _ => Interlocked.Increment(ref rows), Error = Error }, CancellationToken.None);
            else
            {
                Directory.CreateDirectory(folder);
                await new FolderExport(session, client, activity, folder) { ThrottleLimit = throttle }
                    .RunAsync(new OperationCallbacks<FolderExportResult> { Result = _ => Interlocked.Increment(ref rows), Error = Error }, CancellationToken.None);
            }
            Console.WriteLine(FormattableString.Invariant($"run {watch.Elapsed.TotalMilliseconds:0.000} {i % folders.Length}"));
        }
        using var self = Process.GetCurrentProcess();
        Console.WriteLine($"rows {rows}");
        Console.WriteLine(FormattableString.Invariant($"peak {self.PeakWorkingSet64}"));
        return errors == 0 ? 0 : 1;
    }

    private static string Megabytes(long bytes) => (bytes / (double)MB).ToString("0.0", CultureInfo.InvariantCulture);
}

using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Runtime.InteropServices;
using System.Threading;
using System.Threading.Tasks;
using RecurringIntegrations.Core.Model;
using RecurringIntegrations.Core.Operations;
using RecurringIntegrations.Core.Connection;
using RecurringIntegrations.Core.Api;

namespace RecurringIntegrations.Benchmarks;

/// <summary>
/// Measures the module's Core against a naive client, side by side in one run, with the emulator in its own process.
/// dotnet run -c Release --project tests/Benchmarks [-- --files 1000 --size-kb 10 --big-mb 1024 --throttle 8 | --quick | --import-only]
/// </summary>
internal static class Program
{
    /// <summary>Calls made before each timed run, so JIT compilation and first connections are not timed.</summary>
    private const int WarmUp = 20;
    private const long MB = 1024 * 1024;
    private const long MemoryLimit = 64 * MB;

    private const string Usage = """
        Benchmarks: the module's Core against a naive client, with the emulator in its own process.

        Options:
          --files N      small files to enqueue and messages to dequeue per run (default 1000)
          --size-kb K    size of each small file (default 10)
          --big-mb M     size of the big file uploaded and downloaded (default 1024)
          --throttle T   parallel transfers for the parallel runs (default 8)
          --quick        a smoke run: --files 100 --big-mb 64
          --import-only  only Import-Module in fresh pwsh processes, on pwsh and on 7.4 LTS, and the demo on each
          --work DIR     folder for the temporary files (default: the system temp folder); removed at the end
          --journal, --polling, --scale, --folders
                         instead: the folder benchmarks (FolderBenchmark.cs): a run over 1,000,000 journal lines, status
                         polling of 10 new files, 10,000-file folders; --folders runs all three
          --packages     instead: the package API benchmark (256 MB package import and export; --help after it for its options)
          --flow         instead: flow control under throttling, user scripts against Send-D365Enqueue (FlowBenchmark.cs;
                         200 files of 10 KB unless --files / --size-kb say otherwise)
          --rows TEXT    with --flow: only the rows whose "condition, way" contains TEXT (to try one change quickly;
                         a verdict whose rows did not run is left out)
        """;

    public static async Task<int> Main(string[] args)
    {
        if (args.Length > 0 && args[0] == "--packages") return await PackageBenchmark.RunAsync(args[1..]);
        if (args.Length > 0 && args[0] is "--journal" or "--polling" or "--scale" or "--folders" or "--folder-child") return await FolderBenchmark.RunAsync(args);
        Options options;
        try
        {
            options = Options.Parse(args);
        }
        catch (Exception e) when (e is ArgumentException or FormatException or OverflowException)
        {
            Console.Error.WriteLine(e.Message);
            Console.Error.WriteLine(Usage);
            return 2;
        }
        if (options.Help)
        {
            Console.WriteLine(Usage);
            return 0;
        }

        if (options.Flow)
            return await FlowBenchmark.RunAsync(options.FlowFiles, options.SizeKB, options.WorkRoot, options.FlowRows);

        using var cancellation = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            cancellation.Cancel();
        };
        using var terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
        {
            context.Cancel = true;
            cancellation.Cancel();
        });

        var report = new Report();
        var total = Stopwatch.StartNew();
        var work = Path.Combine(options.WorkRoot, "ri-bench-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(work);
        try
        {
            PrintMachine(report, options, args);
            if (options.ImportOnly)
            {
                if (FindPowerShell(report, work) is { } only)
                {
                    await ImportModulePhaseAsync(report, only.Runner, only.Module, cancellation.Token);
                    await LtsPhaseAsync(report, work, only.Module, cancellation.Token);
                }
                report.Summary(total.Elapsed);
                return report.AllPassed ? 0 : 1;
            }
            RequireFreeSpace(work, 2 * options.BigMB * MB + 3L * (options.Files + WarmUp) * options.SizeKB * 1024 + 512 * MB);
            var small = TestFiles.CreateSmall(Path.Combine(work, "small"), options.Files + WarmUp, options.SizeKB);
            await EnqueuePhaseAsync(report, options, work, small, cancellation.Token);
            await DequeuePhaseAsync(report, options, work, Path.Combine(work, "small"), cancellation.Token);
            await TokenPhaseAsync(report, cancellation.Token);
            await BigFilePhaseAsync(report, options, work, cancellation.Token);
            await PowerShellPhaseAsync(report, options, work, small, cancellation.Token);
            if (PowerShellRunner.FindBuiltModule() is { } builtModule) await LtsPhaseAsync(report, work, builtModule, cancellation.Token);
        }
        catch (OperationCanceledException) when (cancellation.IsCancellationRequested)
        {
            Console.Error.WriteLine("Cancelled.");
            return 130;
        }
        finally
        {
            TryDeleteFolder(work);
        }
        report.Summary(total.Elapsed);
        return report.AllPassed ? 0 : 1;
    }

    private static void PrintMachine(Report report, Options options, string[] args)
    {
        var memory = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
        report.Note($"Machine: {Environment.ProcessorCount} logical cores, {memory / (1024.0 * MB):0} GB memory, {RuntimeInformation.OSDescription}, " +
                    $"{RuntimeInformation.FrameworkDescription}, {(System.Runtime.GCSettings.IsServerGC ? "server" : "workstation")} GC");
        var command = $"dotnet run -c Release --project tests/Benchmarks{(args.Length > 0 ? " -- " + string.Join(' ', args) : "")}";
        report.Note(options.ImportOnly ? $"Run: {command}" : $"Run: {command}: " +
                    $"{options.Files} files of {options.SizeKB} KB, big file {options.BigMB} MB, throttle {options.Throttle}, emulator over https on loopback in its own process");
    }

    private static async Task EnqueuePhaseAsync(Report report, Options options, string work, IReadOnlyList<string> files, CancellationToken cancellationToken)
    {
        var warmUp = files.Take(WarmUp).ToList();
        var timed = files.Skip(WarmUp).ToList();
        var name = $"enqueue {timed.Count} x {options.SizeKB} KB";
        await using var emulator = await EmulatorProcess.StartAsync(work, null, cancellationToken);

        var naive = new NaiveClient(emulator);
        foreach (var file in warmUp) await naive.EnqueueAsync(file, cancellationToken);
        var naiveTokensBefore = naive.TokenRequests;
        var naiveRun = await MeasureAsync(emulator, async () =>
        {
            foreach (var file in timed) await naive.EnqueueAsync(file, cancellationToken);
        });
        var naiveRate = timed.Count / naiveRun.Wall.TotalSeconds;
        report.Figure($"{name}, naive (new client + token per call)", $"{Report.Format(naiveRate)} files/s ({naiveRun.Wall.TotalSeconds:0.0} s)");
        report.Figure("  CPU during it", naiveRun.Cpu);

        using var session = await emulator.ConnectAsync(cancellationToken);
        var client = new D365Client(session);
        await EnqueueWithCoreAsync(session, client, emulator.ImportActivity, warmUp, 1, cancellationToken);

        var sequential = await MeasureAsync(emulator, () => EnqueueWithCoreAsync(session, client, emulator.ImportActivity, timed, 1, cancellationToken));
        var sequentialRate = timed.Count / sequential.Wall.TotalSeconds;
        report.Target($"{name}, Core sequential (ThrottleLimit 1)", $"{Report.Format(sequentialRate)} files/s = {Report.Format(sequentialRate / naiveRate)}x naive",
            ">= 1.5x naive", sequentialRate >= 1.5 * naiveRate);
        report.Figure("  CPU during it", sequential.Cpu);

        var parallel = await MeasureAsync(emulator, () => EnqueueWithCoreAsync(session, client, emulator.ImportActivity, timed, options.Throttle, cancellationToken));
        var parallelRate = timed.Count / parallel.Wall.TotalSeconds;
        report.Target($"{name}, Core parallel (ThrottleLimit {options.Throttle})", $"{Report.Format(parallelRate)} files/s = {Report.Format(parallelRate / naiveRate)}x naive",
            ">= 5x naive", parallelRate >= 5 * naiveRate);
        report.Figure("  CPU during it", parallel.Cpu);

        var calls = WarmUp + 2 * timed.Count;
        report.Figure("token requests per 1,000 calls, naive", $"{Report.Format(1000.0 * (naive.TokenRequests - naiveTokensBefore) / timed.Count)}");
        report.Target("token requests per 1,000 calls, Core (enqueue session)",
            $"{session.TokenRequests} for {calls} enqueues (session.TokenRequests, incl. connect)", "exactly 1", session.TokenRequests == 1);
    }

    private static async Task DequeuePhaseAsync(Report report, Options options, string work, string exportFolder, CancellationToken cancellationToken)
    {
        var name = $"dequeue + download + ack {options.Files} x {options.SizeKB} KB";
        var output = Path.Combine(work, "received");

        // Each way gets its own emulator with the same export queue: every run starts from a full queue.
        double naiveRate;
        await using (var emulator = await EmulatorProcess.StartAsync(work, exportFolder, cancellationToken))
        {
            var naive = new NaiveClient(emulator);
            Directory.CreateDirectory(output);
            for (var i = 0; i < WarmUp; i++) await naive.DrainOneAsync(output, cancellationToken);
            var run = await MeasureAsync(emulator, async () =>
            {
                for (var i = 0; i < options.Files; i++)
                    if (!await naive.DrainOneAsync(output, cancellationToken)) throw new InvalidOperationException("The export queue ran empty early.");
            });
            naiveRate = options.Files / run.Wall.TotalSeconds;
            report.Figure($"{name}, naive (new client + token per call)", $"{Report.Format(naiveRate)} messages/s ({run.Wall.TotalSeconds:0.0} s)");
            report.Figure("  CPU during it", run.Cpu);
            TryDeleteFolder(output);
        }

        foreach (var throttle in new[] { 1, options.Throttle })
        {
            await using var emulator = await EmulatorProcess.StartAsync(work, exportFolder, cancellationToken);
            using var session = await emulator.ConnectAsync(cancellationToken);
            var client = new D365Client(session);
            await DrainWithCoreAsync(session, client, emulator.ExportActivity, output, WarmUp, throttle, cancellationToken);
            var run = await MeasureAsync(emulator, () => DrainWithCoreAsync(session, client, emulator.ExportActivity, output, options.Files, throttle, cancellationToken));
            var rate = options.Files / run.Wall.TotalSeconds;
            var label = throttle == 1 ? "Core sequential (ThrottleLimit 1)" : $"Core parallel (ThrottleLimit {throttle})";
            report.Figure($"{name}, {label}", $"{Report.Format(rate)} messages/s = {Report.Format(rate / naiveRate)}x naive; tokens: {session.TokenRequests}");
            report.Figure("  CPU during it", run.Cpu);
            TryDeleteFolder(output);
        }
    }

    /// <summary>The emulator's own count of token grants, which only an emulator in this process can be asked for.</summary>
    private static async Task TokenPhaseAsync(Report report, CancellationToken cancellationToken)
    {
        await using var emulator = await Emulator.D365Emulator.StartAsync(new Emulator.EmulatorOptions(), cancellationToken);
        var secret = new System.Security.SecureString();
        foreach (var c in emulator.Options.ClientSecret) secret.AppendChar(c);
        var connection = new ConnectionOptions(emulator.Environment, new Core.Authentication.ClientSecretCredential(emulator.Options.TenantId, emulator.Options.ClientId, secret))
        {
            AuthorityHost = emulator.AuthorityHost,
            SkipCertificateCheck = true,
        };
        using var session = await D365Session.ConnectAsync(connection, cancellationToken);
        var client = new D365Client(session);
        for (var i = 0; i < 1000; i++) await client.DequeueAsync(Emulator.WellKnown.ExportActivity, cancellationToken);
        report.Target("token requests per 1,000 calls, Core (emulator's count)",
            $"{emulator.State.TokenRequests} granted for 1000 dequeues (session says {session.TokenRequests})", "exactly 1",
            emulator.State.TokenRequests == 1 && session.TokenRequests == 1);
    }

    private static async Task BigFilePhaseAsync(Report report, Options options, string work, CancellationToken cancellationToken)
    {
        var folder = Path.Combine(work, "big");
        var big = TestFiles.CreateBig(folder, options.BigMB);
        var output = Path.Combine(work, "big-received");
        await using var emulator = await EmulatorProcess.StartAsync(work, folder, cancellationToken);
        using var session = await emulator.ConnectAsync(cancellationToken);
        var client = new D365Client(session);

        Measured upload;
        using (var sampler = new MemorySampler())
        {
            upload = await MeasureAsync(emulator, () => EnqueueWithCoreAsync(session, client, emulator.ImportActivity, new[] { big }, 1, cancellationToken));
            sampler.Stop();
            report.Target($"upload {options.BigMB} MB through Core (EnqueueBatch)",
                $"{Report.Format(options.BigMB / upload.Wall.TotalSeconds)} MB/s, peak +{Megabytes(sampler.PeakWorkingSetAboveIdle)} MB working set",
                "< 64 MB above idle", sampler.PeakWorkingSetAboveIdle < MemoryLimit);
            report.Figure("  private bytes above idle, CPU during it", $"+{Megabytes(sampler.PeakPrivateAboveIdle)} MB; {upload.Cpu}");
        }

        Measured download;
        using (var sampler = new MemorySampler())
        {
            download = await MeasureAsync(emulator, () => DrainWithCoreAsync(session, client, emulator.ExportActivity, output, 1, 1, cancellationToken));
            sampler.Stop();
            var saved = Directory.GetFiles(output).Single();
            if (new FileInfo(saved).Length != options.BigMB * MB) throw new InvalidOperationException("The downloaded file has the wrong length.");
            report.Target($"download {options.BigMB} MB through Core (QueueDrain)",
                $"{Report.Format(options.BigMB / download.Wall.TotalSeconds)} MB/s, peak +{Megabytes(sampler.PeakWorkingSetAboveIdle)} MB working set",
                "< 64 MB above idle", sampler.PeakWorkingSetAboveIdle < MemoryLimit);
            report.Figure("  private bytes above idle, CPU during it", $"+{Megabytes(sampler.PeakPrivateAboveIdle)} MB; {download.Cpu}");
        }
        // The big files go as soon as they are measured, not only at the end.
        TryDeleteFolder(output);
        TryDeleteFolder(folder);
    }

    private static (PowerShellRunner Runner, string Module)? FindPowerShell(Report report, string work)
    {
        var pwsh = PowerShellRunner.Find();
        if (pwsh is null)
        {
            report.Note("pwsh is not on PATH: Import-Module time and Send-D365Enqueue vs Invoke-RestMethod are skipped.");
            return null;
        }
        var module = PowerShellRunner.FindBuiltModule();
        if (module is null)
        {
            report.Note("The built module (out/RecurringIntegrations) was not found: run dotnet build first; the PowerShell figures are skipped.");
            return null;
        }
        return (new PowerShellRunner(pwsh, work), module);
    }

    /// <summary>
    /// PowerShell 7.4 LTS, Azure Automation's runtime on .NET 8: its Import-Module figure and the demo, a line each, and
    /// the demo on the first pwsh too. Last, because the demo builds the module again (Debug) into out/.
    /// </summary>
    private static async Task LtsPhaseAsync(Report report, string work, string module, CancellationToken cancellationToken)
    {
        var runners = new List<PowerShellRunner>();
        if (PowerShellRunner.Find() is { } pwsh) runners.Add(new PowerShellRunner(pwsh, work));
        if (PowerShellRunner.FindLts() is { } lts)
        {
            var runner = new PowerShellRunner(lts, work);
            await ImportModulePhaseAsync(report, runner, module, cancellationToken);
            runners.Add(runner);
        }
        else report.Note("PowerShell 7.4 LTS (pwsh-7.4 on PATH or ../shared/tools/pwsh-7.4) was not found: its Import-Module and demo lines are skipped.");
        foreach (var runner in runners)
        {
            var version = await runner.VersionAsync(cancellationToken);
            var time = await runner.DemoAsync(cancellationToken);
            report.Target($"./build.ps1 -Task Demo on {version}", $"{time.TotalSeconds:0.0} s", "exit 0", true);
        }
    }

    /// <summary>Each import in its own pwsh, as a session or runbook starts: Core and the loader are loaded on import.</summary>
    private static async Task ImportModulePhaseAsync(Report report, PowerShellRunner runner, string module, CancellationToken cancellationToken)
    {
        const int processes = 10;
        var version = await runner.VersionAsync(cancellationToken);
        var importTimes = new List<double>();
        for (var i = 0; i < processes; i++) importTimes.Add(await runner.ImportModuleMillisecondsAsync(module, cancellationToken));
        importTimes.Sort();
        var importMedian = (importTimes[processes / 2 - 1] + importTimes[processes / 2]) / 2;
        report.Target($"Import-Module on {version} (median of {processes} fresh processes; {importTimes[0]:0}-{importTimes[^1]:0} ms)", $"{importMedian:0} ms", "< 300 ms", importMedian < 300);
    }

    private static async Task PowerShellPhaseAsync(Report report, Options options, string work, IReadOnlyList<string> files, CancellationToken cancellationToken)
    {
        if (FindPowerShell(report, work) is not { } found) return;
        var (runner, module) = found;
        await ImportModulePhaseAsync(report, runner, module, cancellationToken);

        await using var emulator = await EmulatorProcess.StartAsync(work, null, cancellationToken);
        var timed = files.Skip(WarmUp).ToList();
        var (module_ms, loop_ms) = await runner.EnqueueComparisonAsync(module, emulator, timed, options.Throttle, cancellationToken);
        report.Figure($"Send-D365Enqueue {timed.Count} files (ThrottleLimit {options.Throttle})", $"{Report.Format(timed.Count / (module_ms / 1000))} files/s");
        report.Figure($"Invoke-RestMethod loop {timed.Count} files (one token)", $"{Report.Format(timed.Count / (loop_ms / 1000))} files/s; Send-D365Enqueue is {Report.Format(loop_ms / module_ms)}x faster");
    }

    private static async Task EnqueueWithCoreAsync(D365Session session, D365Client client, Guid activity, IReadOnlyList<string> files, int throttle,
        CancellationToken cancellationToken)
    {
        var errors = new ConcurrentQueue<string>();
        var results = 0;
        var callbacks = new OperationCallbacks<EnqueuedMessage>
        {
            Result = _ => Interlocked.Increment(ref results),
            Error = (target, error) => errors.Enqueue($"{target}: {error.Message}"),
        };
        var requests = files.Select(f => new EnqueueRequest(f) { EntityName = "Benchmark" }).ToList();
        await new EnqueueBatch(session, client, activity) { ThrottleLimit = throttle }.RunAsync(requests, callbacks, cancellationToken);
        if (!errors.IsEmpty || results != files.Count)
            throw new InvalidOperationException($"Enqueue failed for {files.Count - results} files: {errors.FirstOrDefault()}");
    }

    private static async Task DrainWithCoreAsync(D365Session session, D365Client client, Guid activity, string output, int count, int throttle,
        CancellationToken cancellationToken)
    {
        var errors = new ConcurrentQueue<string>();
        var acknowledged = 0;
        var callbacks = new OperationCallbacks<DequeuedMessage>
        {
            Result = m => { if (m.Acknowledged) Interlocked.Increment(ref acknowledged); },
            Error = (target, error) => errors.Enqueue($"{target}: {error.Message}"),
            Warning = errors.Enqueue,
        };
        await new QueueDrain(session, client, activity) { OutputPath = output, MaxCount = count, Acknowledge = true, ThrottleLimit = throttle }
            .RunAsync(callbacks, cancellationToken);
        if (!errors.IsEmpty || acknowledged != count)
            throw new InvalidOperationException($"The drain saved and acknowledged {acknowledged} of {count} messages: {errors.FirstOrDefault()}");
    }

    private static async Task<Measured> MeasureAsync(EmulatorProcess emulator, Func<Task> work)
    {
        using var self = Process.GetCurrentProcess();
        var emulatorCpu = emulator.CpuTime;
        var clientCpu = self.TotalProcessorTime;
        var watch = Stopwatch.StartNew();
        await work();
        watch.Stop();
        self.Refresh();
        return new Measured(watch.Elapsed, self.TotalProcessorTime - clientCpu, emulator.CpuTime - emulatorCpu);
    }

    private static string Megabytes(long bytes) => (bytes / (double)MB).ToString("0.0", CultureInfo.InvariantCulture);

    private static void RequireFreeSpace(string folder, long bytes)
    {
        var free = new DriveInfo(Path.GetPathRoot(Path.GetFullPath(folder))!).AvailableFreeSpace;
        if (free < bytes)
            throw new IOException($"The benchmark needs {bytes / MB} MB free in '{folder}' and {free / MB} MB are free; use --work or a smaller --big-mb.");
    }

    private static void TryDeleteFolder(string folder)
    {
        try
        {
            if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"Could not delete '{folder}': {e.Message}");
        }
    }

    private sealed record Measured(TimeSpan Wall, TimeSpan ClientCpu, TimeSpan EmulatorCpu)
    {
        /// <summary>The emulator's share shows whether it, rather than the client, was the bottleneck.</summary>
        public string Cpu => $"wall {Wall.TotalSeconds:0.00} s; CPU client {ClientCpu.TotalSeconds:0.00} s, emulator {EmulatorCpu.TotalSeconds:0.00} s " +
                             $"({EmulatorCpu.TotalSeconds / Wall.TotalSeconds:0%} of one core)";
    }

    private sealed class Options
    {
        public int Files { get; private set; } = 1000;
        public int SizeKB { get; private set; } = 10;
        public long BigMB { get; private set; } = 1024;
        public int Throttle { get; private set; } = 8;
        public string WorkRoot { get; private set; } = Path.GetTempPath();
        public bool ImportOnly { get; private set; }
        public bool Help { get; private set; }
        public bool Flow { get; private set; }
        public int FlowFiles => FilesGiven ? Files : 200;
        public string? FlowRows { get; private set; }
        private bool FilesGiven { get; set; }

        public static Options Parse(string[] args)
        {
            var options = new Options();
            for (var i = 0; i < args.Length; i++)
            {
                string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
                switch (args[i])
                {
                    case "--files": options.Files = Positive(Value()); options.FilesGiven = true; break;
                    case "--flow": options.Flow = true; break;
                    case "--rows": options.FlowRows = Value(); break;
                    case "--size-kb": options.SizeKB = Positive(Value()); break;
                    case "--big-mb": options.BigMB = Positive(Value()); break;
                    case "--throttle": options.Throttle = Positive(Value()); break;
                    case "--quick": options.Files = 100; options.BigMB = 64; break;
                    case "--import-only": options.ImportOnly = true; break;
                    case "--work": options.WorkRoot = Value(); break;
                    case "--help" or "-h" or "-?": options.Help = true; break;
                    default: throw new ArgumentException($"Unknown option {args[i]}.");
                }
            }
            return options;
        }

        private static int Positive(string text)
        {
            var value = int.Parse(text, CultureInfo.InvariantCulture);
            return value > 0 ? value : throw new ArgumentException($"{text} is not a positive number.");
        }
    }
}

using System;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Threading;
using System.Threading.Tasks;
using RecurringIntegrations.Core.Packages;

namespace RecurringIntegrations.Benchmarks;

/// <summary>
/// The package API with a large package: build it, import it (blob upload in blocks + ImportFromPackage + wait) and
/// export it back (ExportToPackage + wait + download), each with throughput and peak memory above idle.
/// dotnet run -c Release --project tests/Benchmarks -- --packages [--package-mb 256] [--work DIR]
/// </summary>
internal static class PackageBenchmark
{
    private const long MB = 1024 * 1024;
    private const long MemoryLimit = 64 * MB;
    private const string Project = "Benchmark project";

    private const string Usage = """
        Package benchmark: a large data package built, imported and exported through Core, the emulator in its own process.

        Options:
          --package-mb M   size of the package (default 256, the service's package limit); its data file is random
                           bytes of 95% of that, as deflate makes incompressible data about 5% larger
          --work DIR       folder for the temporary files (default: the system temp folder); removed at the end
        """;

    public static async Task<int> RunAsync(string[] args)
    {
        long megabytes = 256;
        var workRoot = Path.GetTempPath();
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--package-mb" when i + 1 < args.Length && long.TryParse(args[i + 1], NumberStyles.None, CultureInfo.InvariantCulture, out var mb) && mb > 0:
                    megabytes = mb;
                    i++;
                    break;
                case "--work" when i + 1 < args.Length:
                    workRoot = args[++i];
                    break;
                case "--help" or "-h" or "-?":
                    Console.WriteLine(Usage);
                    return 0;
                default:
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
        var work = Path.Combine(workRoot, "ri-bench-packages-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(work);
        try
        {
            var dataMB = Math.Max(1, megabytes * 95 / 100);
            report.Note($"Package benchmark: {megabytes} MB package of a {dataMB} MB data file, {Environment.ProcessorCount} cores, {RuntimeDescription()}");
            var data = TestFiles.CreateBig(Path.Combine(work, "data"), dataMB);
            var renamed = Path.Combine(work, "data", "Big entity.bin");
            File.Move(data, renamed);
            var package = Path.Combine(work, "package", "big-package.zip");

            FileInfo built;
            using (var sampler = new MemorySampler())
            {
                var watch = Stopwatch.StartNew();
                built = DataPackages.Create(new DataPackageRequest(new[] { new PackageEntity(renamed) { EntityName = "Big entity", SourceFormat = "CSV-Unicode" } }, package));
                sampler.Stop();
                report.Target($"New-D365DataPackage core: build a package of {dataMB} MB of data",
                    $"{Report.Format(dataMB / watch.Elapsed.TotalSeconds)} MB/s, peak +{Megabytes(sampler.PeakWorkingSetAboveIdle)} MB working set",
                    "< 64 MB above idle", sampler.PeakWorkingSetAboveIdle < MemoryLimit);
            }
            File.Delete(renamed);

            await using var emulator = await EmulatorProcess.StartAsync(work, null, cancellation.Token,
                "--processing-delay-ms", "200", "--export-package", $"{Project}={built.FullName}");
            using var session = await emulator.ConnectAsync(cancellation.Token);
            var client = new DataPackageClient(session);
            var jobs = new PackageJobs(client) { PollInterval = TimeSpan.FromMilliseconds(100), Timeout = TimeSpan.FromMinutes(30) };
            var packageMB = built.Length / (double)MB;

            using (var sampler = new MemorySampler())
            {
                var watch = Stopwatch.StartNew();
                var cpu = Process.GetCurrentProcess().TotalProcessorTime;
                var started = await jobs.ImportAsync(new PackageImportRequest(built.FullName, Project, "usmf"), null, cancellation.Token);
                var uploaded = watch.Elapsed;
                var done = await jobs.WaitAsync(started, cancellation.Token);
                sampler.Stop();
                if (done.Status != "Succeeded") throw new InvalidOperationException($"The import ended {done.Status}.");
                report.Target($"Import-D365DataPackage core: {packageMB:0} MB package (upload as blocks)",
                    $"{Report.Format(packageMB / uploaded.TotalSeconds)} MB/s upload, peak +{Megabytes(sampler.PeakWorkingSetAboveIdle)} MB working set",
                    "< 64 MB above idle", sampler.PeakWorkingSetAboveIdle < MemoryLimit);
                report.Figure("  private bytes above idle; client CPU; wall time to Succeeded",
                    $"+{Megabytes(sampler.PeakPrivateAboveIdle)} MB; {(Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalSeconds:0.0} s; {watch.Elapsed.TotalSeconds:0.0} s");
            }

            using (var sampler = new MemorySampler())
            {
                var watch = Stopwatch.StartNew();
                var exported = await jobs.ExportAsync(new PackageExportRequest(Project, "usmf", Path.Combine(work, "exports")), cancellation.Token);
                sampler.Stop();
                if (exported.Length != built.Length) throw new InvalidOperationException($"The exported package has {exported.Length} bytes, not {built.Length}.");
                report.Target($"Export-D365DataPackage core: {packageMB:0} MB package (export, wait, download)",
                    $"{Report.Format(packageMB / watch.Elapsed.TotalSeconds)} MB/s end to end, peak +{Megabytes(sampler.PeakWorkingSetAboveIdle)} MB working set",
                    "< 64 MB above idle", sampler.PeakWorkingSetAboveIdle < MemoryLimit);
                report.Figure("  private bytes above idle", $"+{Megabytes(sampler.PeakPrivateAboveIdle)} MB");
            }
            report.Summary(total.Elapsed);
            return report.AllPassed ? 0 : 1;
        }
        catch (OperationCanceledException) when (cancellation.IsCancellationRequested)
        {
            Console.Error.WriteLine("Stopped.");
            return 130;
        }
        finally
        {
            try { Directory.Delete(work, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    private static string Megabytes(long bytes) => (bytes / (double)MB).ToString("0.0", CultureInfo.InvariantCulture);

    private static string RuntimeDescription() => System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription;
}

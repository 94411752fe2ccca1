using System;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Threading;
using System.Threading.Tasks;
using System.Net.Http;
using RecurringIntegrations.Core.Api;
using RecurringIntegrations.Core.Connection;
using RecurringIntegrations.Core.Model;
using RecurringIntegrations.Core.Operations;
using RecurringIntegrations.Core.Packages;

namespace RecurringIntegrations.Benchmarks;

/// <summary>
/// The package API with a large package: build it; its upload (blocks several at once) against a plain upload of the same
/// bytes, and its download (ranges several at once) against a plain download, in one run on loopback; the upload with the
/// storage 50 ms away, several blocks at once against one at a time; import and export end to end; peak memory of each.
/// dotnet run -c Release --project tests/Benchmarks -- --packages [--package-mb 256] [--work DIR]
/// </summary>
internal static class PackageBenchmark
{
    private const long MB = 1024 * 1024;
    private const long MemoryLimit = 64 * MB;
    private const string Project = "Benchmark project";
    private const int LatencyMs = 50;

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

            var packageMB = built.Length / (double)MB;
            await using (var emulator = await EmulatorProcess.StartAsync(work, null, cancellation.Token,
                             "--processing-delay-ms", "200", "--export-package", $"{Project}={built.FullName}"))
            {
                using var session = await emulator.ConnectAsync(cancellation.Token);
                var client = new DataPackageClient(session);
                var jobs = new PackageJobs(client) { PollInterval = TimeSpan.FromMilliseconds(100), Timeout = TimeSpan.FromMinutes(30) };
                // Untimed: JIT, the first connections and a first blob, so that neither way pays for them.
                await UploadPackageAsync(client, built.FullName, PackageImportRequest.DefaultBlockConcurrency, cancellation.Token);

                var plainUpload = await TimeAsync(() => PlainUploadAsync(session, emulator.ImportActivity, built.FullName, cancellation.Token));
                report.Figure($"plain upload of the same {packageMB:0} MB (one streamed enqueue through Core)",
                    $"{Report.Format(packageMB / plainUpload.Seconds)} MB/s ({plainUpload.Seconds:0.00} s)");
                var upload = await TimeAsync(() => UploadPackageAsync(client, built.FullName, PackageImportRequest.DefaultBlockConcurrency, cancellation.Token));
                report.Target($"package upload, {PackageImportRequest.DefaultBlockConcurrency} blocks at once (GetAzureWriteUrl, Put Block x {(built.Length + 4 * MB - 1) / (4 * MB)}, Put Block List)",
                    $"{Report.Format(packageMB / upload.Seconds)} MB/s = {upload.Seconds / plainUpload.Seconds:0.00}x the plain upload's time", "<= 1.5x",
                    upload.Seconds <= 1.5 * plainUpload.Seconds);
                report.Target("  its peak memory", $"+{Megabytes(upload.PeakAboveIdle)} MB working set above idle", "< 64 MB above idle", upload.PeakAboveIdle < MemoryLimit);

                using (var sampler = new MemorySampler())
                {
                    var watch = Stopwatch.StartNew();
                    var started = await jobs.ImportAsync(new PackageImportRequest(built.FullName, Project, "usmf"), null, cancellation.Token);
                    var done = await jobs.WaitAsync(started, cancellation.Token);
                    sampler.Stop();
                    if (done.Status != "Succeeded") throw new InvalidOperationException($"The import ended {done.Status}.");
                    report.Target($"Import-D365DataPackage core: {packageMB:0} MB package, upload to Succeeded",
                        $"{watch.Elapsed.TotalSeconds:0.0} s end to end, peak +{Megabytes(sampler.PeakWorkingSetAboveIdle)} MB working set",
                        "< 64 MB above idle", sampler.PeakWorkingSetAboveIdle < MemoryLimit);
                }

                PackageExecution exported;
                using (var sampler = new MemorySampler())
                {
                    var watch = Stopwatch.StartNew();
                    exported = await jobs.ExportAsync(new PackageExportRequest(Project, "usmf", Path.Combine(work, "exports")), cancellation.Token);
                    sampler.Stop();
                    if (exported.Length != built.Length) throw new InvalidOperationException($"The exported package has {exported.Length} bytes, not {built.Length}.");
                    report.Target($"Export-D365DataPackage core: {packageMB:0} MB package, start to saved",
                        $"{watch.Elapsed.TotalSeconds:0.0} s end to end, peak +{Megabytes(sampler.PeakWorkingSetAboveIdle)} MB working set",
                        "< 64 MB above idle", sampler.PeakWorkingSetAboveIdle < MemoryLimit);
                }
                var url = await client.GetExportedPackageUrlAsync(exported.ExecutionId, cancellation.Token)
                          ?? throw new InvalidOperationException("The export has no package URL.");
                var plainDownload = await TimeAsync(() => PlainDownloadAsync(url, Path.Combine(work, "plain.zip"), built.Length, cancellation.Token));
                report.Figure($"plain download of the same {packageMB:0} MB (one GET, streamed to a file)",
                    $"{Report.Format(packageMB / plainDownload.Seconds)} MB/s ({plainDownload.Seconds:0.00} s)");
                var download = await TimeAsync(() => DownloadPackageAsync(client, url, Path.Combine(work, "ranged.zip"), built.Length, cancellation.Token));
                report.Target($"package download, {client.Storage.DownloadConcurrency} ranges of 4 MiB at once, into the partial file",
                    $"{Report.Format(packageMB / download.Seconds)} MB/s = {download.Seconds / plainDownload.Seconds:0.00}x the plain download's time", "<= 1.5x",
                    download.Seconds <= 1.5 * plainDownload.Seconds);
                report.Target("  its peak memory", $"+{Megabytes(download.PeakAboveIdle)} MB working set above idle", "< 64 MB above idle", download.PeakAboveIdle < MemoryLimit);
            }

            await using (var far = await EmulatorProcess.StartAsync(work, null, cancellation.Token, "--storage-latency-ms", LatencyMs.ToString(CultureInfo.InvariantCulture)))
            {
                using var session = await far.ConnectAsync(cancellation.Token);
                var client = new DataPackageClient(session);
                await UploadPackageAsync(client, built.FullName, PackageImportRequest.DefaultBlockConcurrency, cancellation.Token);
                var one = await TimeAsync(() => UploadPackageAsync(client, built.FullName, 1, cancellation.Token));
                report.Figure($"package upload with {LatencyMs} ms storage latency, one block at a time",
                    $"{Report.Format(packageMB / one.Seconds)} MB/s ({one.Seconds:0.00} s)");
                var several = await TimeAsync(() => UploadPackageAsync(client, built.FullName, PackageImportRequest.DefaultBlockConcurrency, cancellation.Token));
                report.Target($"package upload with {LatencyMs} ms storage latency, {PackageImportRequest.DefaultBlockConcurrency} blocks at once",
                    $"{Report.Format(packageMB / several.Seconds)} MB/s = {one.Seconds / several.Seconds:0.00}x faster than one at a time", ">= 3x",
                    one.Seconds >= 3 * several.Seconds);
                report.Target("  its peak memory", $"+{Megabytes(several.PeakAboveIdle)} MB working set above idle", "< 64 MB above idle", several.PeakAboveIdle < MemoryLimit);
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

    private sealed record Timed(double Seconds, long PeakAboveIdle);

    private static async Task<Timed> TimeAsync(Func<Task> work)
    {
        using var sampler = new MemorySampler();
        var watch = Stopwatch.StartNew();
        await work();
        watch.Stop();
        sampler.Stop();
        return new Timed(watch.Elapsed.TotalSeconds, sampler.PeakWorkingSetAboveIdle);
    }

    /// <summary>The upload part of Import-D365DataPackage alone: a fresh blob, its blocks and their list.</summary>
    private static async Task UploadPackageAsync(DataPackageClient client, string package, int blockConcurrency, CancellationToken cancellationToken)
    {
        var (_, blobUrl) = await client.GetAzureWriteUrlAsync("bench-" + Guid.NewGuid().ToString("N") + ".zip", cancellationToken);
        await client.Storage.UploadAsync(blobUrl, package, new FileInfo(package).Length, blockConcurrency, null, cancellationToken);
    }

    /// <summary>The same bytes in one streamed request: an enqueue through Core (one token, one connection).</summary>
    private static async Task PlainUploadAsync(D365Session session, Guid activity, string path, CancellationToken cancellationToken)
    {
        Exception? failure = null;
        var callbacks = new OperationCallbacks<EnqueuedMessage> { Error = (_, error) => failure = error };
        await new EnqueueBatch(session, new D365Client(session), activity).RunAsync(new[] { new EnqueueRequest(path) { EntityName = "Benchmark" } }, callbacks, cancellationToken);
        if (failure is not null) throw new InvalidOperationException("The plain upload failed: " + failure.Message, failure);
    }

    /// <summary>A plain GET of the blob streamed to a file: what a script with HttpClient does.</summary>
    private static async Task PlainDownloadAsync(Uri url, string target, long length, CancellationToken cancellationToken)
    {
        using var http = new HttpClient(new HttpClientHandler { ServerCertificateCustomValidationCallback = (_, _, _, _) => true });
        using (var response = await http.GetAsync(url, HttpCompletionOption.ResponseHeadersRead, cancellationToken))
        {
            response.EnsureSuccessStatusCode();
            await using var body = await response.Content.ReadAsStreamAsync(cancellationToken);
            await using var file = new FileStream(target, FileMode.Create, FileAccess.Write, FileShare.None, 81920, FileOptions.Asynchronous);
            await body.CopyToAsync(file, 81920, cancellationToken);
            file.Flush(true);
        }
        Check(target, length);
    }

    private static async Task DownloadPackageAsync(DataPackageClient client, Uri url, string target, long length, CancellationToken cancellationToken)
    {
        await client.Storage.DownloadAsync(url, target, false, cancellationToken);
        Check(target, length);
    }

    private static void Check(string target, long length)
    {
        var saved = new FileInfo(target).Length;
        File.Delete(target);
        if (saved != length) throw new InvalidOperationException($"{target} has {saved} bytes, not {length}.");
    }

    private static string Megabytes(long bytes) => (bytes / (double)MB).ToString("0.0", CultureInfo.InvariantCulture);

    private static string RuntimeDescription() => System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription;
}

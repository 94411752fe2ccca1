using System;
using System.Collections.Concurrent;
using System.IO;
using System.Linq;
using System.Net.Http;
using System.Security.Cryptography;
using System.Threading;
using System.Threading.Tasks;
using RecurringIntegrations.Core.Model;
using RecurringIntegrations.Core.Packages;
using RecurringIntegrations.Emulator;
using RecurringIntegrations.Tests.Support;
using Xunit;
using RecurringIntegrations.Core.Errors;

namespace RecurringIntegrations.Tests.Packages;

/// <summary>The package API end to end against the emulator: OData actions with the token, blob storage without it.</summary>
public sealed class PackageApiTests
{
    private static async Task<(Emulated Env, DataPackageClient Client, PackageJobs Jobs, ConcurrentQueue<string> Verbose)> StartAsync(Action<EmulatorOptions>? configure = null)
    {
        var env = await Emulated.StartAsync(configure);
        var verbose = new ConcurrentQueue<string>();
        var client = new DataPackageClient(env.Session, verbose.Enqueue);
        var jobs = new PackageJobs(client) { PollInterval = TimeSpan.FromMilliseconds(20), Timeout = TimeSpan.FromSeconds(20) };
        return (env, client, jobs, verbose);
    }

    private static string Package(Emulated env, string name, string content, string entity = "Customer groups")
    {
        var data = env.WriteFile(name + ".csv", content);
        return DataPackages.Create(new DataPackageRequest(new[] { new PackageEntity(data) { EntityName = entity, SourceFormat = "CSV-Unicode" } },
            Path.Combine(env.Folder, name + ".zip"))).FullName;
    }

    [Fact]
    public async Task Import_uploads_the_package_to_storage_without_the_token_and_the_wait_ends_Succeeded()
    {
        var (env, client, jobs, verbose) = await StartAsync();
        await using var _ = env;
        var package = Package(env, "groups", "CUSTGROUP\r\n10\r\n");

        var started = await jobs.ImportAsync(new PackageImportRequest(package, "Groups project", "usmf"), null, CancellationToken.None);
        var done = await jobs.WaitAsync(started, CancellationToken.None);

        Assert.Equal("Import", started.Operation);
        Assert.False(string.IsNullOrEmpty(started.ExecutionId));
        Assert.Equal(("Succeeded", true, true), (done.Status, done.IsTerminal, done.Succeeded));
        Assert.Equal(("Groups project", "usmf", package), (done.DefinitionGroupId, done.LegalEntityId, done.Path));
        Assert.Contains(started.ExecutionId, done.SummaryPageUrl);
        var execution = Assert.Single(env.Emulator.Packages.Executions);
        Assert.Equal(("Import", "Groups project", "usmf"), (execution.Kind, execution.DefinitionGroupId, execution.LegalEntityId));
        Assert.Equal(Sha256(package), BlobSha256(env, execution.PackageBlob!));

        var requests = env.Emulator.State.Requests;
        var storage = requests.Where(r => r.Host.StartsWith("localhost", StringComparison.OrdinalIgnoreCase)).ToList();
        Assert.Single(storage, r => r.Method == "PUT");
        Assert.All(storage, r => Assert.False(r.HadAuthorization));
        Assert.All(requests.Where(r => r.PathAndQuery.StartsWith("/data/")), r => Assert.True(r.HadAuthorization));
        Assert.Empty(env.Emulator.Blobs.AuthorizationLeaks);
        Assert.Contains(verbose, line => line.StartsWith("PUT https://localhost:") && line.Contains("sig=REDACTED"));
        Assert.DoesNotContain(verbose, line => line.Contains("sig=") && !line.Contains("sig=REDACTED"));
    }

    [Fact]
    public async Task A_package_above_the_single_upload_limit_goes_as_blocks_and_arrives_whole()
    {
        var (env, client, jobs, _) = await StartAsync();
        await using var _ = env;
        client.Storage.SinglePutLimit = 64 * 1024;
        client.Storage.BlockSize = 16 * 1024;
        var random = new byte[200_000];
        new Random(7).NextBytes(random);
        var data = Path.Combine(env.Folder, "random.bin");
        File.WriteAllBytes(data, random);
        var package = DataPackages.Create(new DataPackageRequest(new[] { new PackageEntity(data) { EntityName = "Blobs", SourceFormat = "CSV-Unicode" } },
            Path.Combine(env.Folder, "big.zip"))).FullName;
        var progress = new ConcurrentQueue<long>();

        var started = await jobs.ImportAsync(new PackageImportRequest(package, "Big", "usmf"), (sent, _) => progress.Enqueue(sent), CancellationToken.None);

        var execution = Assert.Single(env.Emulator.Packages.Executions);
        Assert.Equal(Sha256(package), BlobSha256(env, execution.PackageBlob!));
        Assert.Equal((int)Math.Ceiling(new FileInfo(package).Length / (16.0 * 1024)), env.Emulator.Blobs.PutBlockCount);
        Assert.Equal(0, env.Emulator.Blobs.PutBlobCount);
        Assert.Equal(new FileInfo(package).Length, progress.Last());
        Assert.Equal("Succeeded", (await jobs.WaitAsync(started, CancellationToken.None)).Status);
    }

    [Fact]
    public async Task A_large_package_goes_up_in_blocks_at_once_and_comes_back_in_ranges_at_once_byte_for_byte()
    {
        var random = new byte[300_000];
        new Random(11).NextBytes(random);
        var folder = Directory.CreateTempSubdirectory("ri-ranges-").FullName;
        try
        {
            var data = Path.Combine(folder, "random.bin");
            File.WriteAllBytes(data, random);
            var package = DataPackages.Create(new DataPackageRequest(new[] { new PackageEntity(data) { EntityName = "Blobs", SourceFormat = "CSV-Unicode" } },
                Path.Combine(folder, "big.zip"))).FullName;
            var (env, client, jobs, verbose) = await StartAsync(o => o.DefinitionGroups.Add(new DefinitionGroup("Big", Array.Empty<string>(), package)));
            await using var _ = env;
            client.Storage.SinglePutLimit = 64 * 1024;
            client.Storage.BlockSize = 16 * 1024;
            client.Storage.RangeSize = 16 * 1024;

            await jobs.ImportAsync(new PackageImportRequest(package, "Big", "usmf") { BlockConcurrency = 8 }, null, CancellationToken.None);
            var exported = await jobs.ExportAsync(new PackageExportRequest("Big", "usmf", Path.Combine(env.Folder, "exports")), CancellationToken.None);

            var execution = env.Emulator.Packages.Executions.First(e => e.Kind == "Import");
            Assert.Equal(Sha256(package), BlobSha256(env, execution.PackageBlob!));
            Assert.Equal(Sha256(package), Sha256(exported.Path!));
            var ranges = (int)Math.Ceiling(new FileInfo(package).Length / (16.0 * 1024));
            Assert.Equal(ranges, env.Emulator.Blobs.PutBlockCount);
            Assert.Equal(ranges, verbose.Count(line => line.StartsWith("GET ") && line.Contains("-> 206 Partial Content")));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public async Task Markers_in_the_data_end_PartiallySucceeded_with_execution_errors_and_an_error_keys_file()
    {
        var (env, client, jobs, _) = await StartAsync();
        await using var _ = env;
        var package = Package(env, "bad", "CUSTGROUP\r\n10\r\nEMULATOR-ERROR: Group 20 has no terms of payment\r\n");

        var done = await jobs.WaitAsync(await jobs.ImportAsync(new PackageImportRequest(package, "Groups", "usmf"), null, CancellationToken.None), CancellationToken.None);
        var errors = await env.Client.GetExecutionErrorsAsync(done.ExecutionId, CancellationToken.None);
        var keys = await jobs.GetErrorFileAsync(ErrorFileKind.Target, done.ExecutionId, "Customer groups", Path.Combine(env.Folder, "keys"), CancellationToken.None);
        var none = await jobs.GetErrorFileAsync(ErrorFileKind.Target, done.ExecutionId, "Vendor groups", Path.Combine(env.Folder, "keys"), CancellationToken.None);

        Assert.Equal(("PartiallySucceeded", true, false), (done.Status, done.IsTerminal, done.Succeeded));
        var error = Assert.Single(errors);
        Assert.Equal(("Customer groups", "Group 20 has no terms of payment"), (error.EntityName, error.ErrorMessage));
        Assert.Equal("3", error.Fields["LineNumber"]);
        Assert.Equal(ErrorFileKind.Staging, error.ErrorFile);
        Assert.NotNull(keys);
        Assert.Equal(ErrorFileKind.Target, keys!.ErrorFile);
        Assert.Contains("3,\"Group 20 has no terms of payment\"", File.ReadAllText(keys!.Path));
        Assert.Equal(new FileInfo(keys.Path).Length, keys.Length);
        Assert.Null(none);
        Assert.Empty(env.Emulator.Blobs.AuthorizationLeaks);
    }

    [Fact]
    public async Task A_file_that_is_not_a_package_is_refused_before_anything_is_sent()
    {
        var (env, client, jobs, _) = await StartAsync();
        await using var _ = env;
        var raw = env.WriteFile("raw.csv", "A,B\r\n");
        var before = env.Emulator.State.Requests.Count;

        var error = await Assert.ThrowsAsync<D365Exception>(() => jobs.ImportAsync(new PackageImportRequest(raw, "G", "usmf"), null, CancellationToken.None));

        Assert.Equal("NotADataPackage", error.ErrorId);
        Assert.Equal(before, env.Emulator.State.Requests.Count);
    }

    [Fact]
    public async Task A_package_the_service_cannot_read_ends_Failed_with_the_services_error()
    {
        var (env, client, jobs, _) = await StartAsync();
        await using var _ = env;
        var (_, blobUrl) = await client.GetAzureWriteUrlAsync("raw.zip", CancellationToken.None);
        var raw = env.WriteFile("raw.csv", "A,B\r\n");
        await client.Storage.UploadAsync(blobUrl, raw, new FileInfo(raw).Length, PackageImportRequest.DefaultBlockConcurrency, null, CancellationToken.None);
        var id = await client.ImportFromPackageAsync(blobUrl, "G", null, true, false, "usmf", CancellationToken.None);

        var done = await jobs.WaitAsync(new PackageExecution { ExecutionId = id }, CancellationToken.None);
        var errors = await env.Client.GetExecutionErrorsAsync(id, CancellationToken.None);

        Assert.Equal("Failed", done.Status);
        Assert.Contains("PackageHeader.xml", Assert.Single(errors).ErrorMessage);
    }

    [Theory]
    [InlineData(400)]
    [InlineData(500)]
    public async Task Execution_details_not_found_right_after_the_start_count_as_not_started_yet(int statusCode)
    {
        var (env, client, jobs, _) = await StartAsync(o =>
        {
            // Half of it is the not-found window: longer than the fast retries of a 500 on a busy machine.
            o.ProcessingDelay = TimeSpan.FromMilliseconds(2000);
            o.ExecutionNotFoundStatusCode = statusCode;
            o.ExecutionNotFoundEvery = 1;
        });
        await using var _ = env;
        var started = await jobs.ImportAsync(new PackageImportRequest(Package(env, "g", "A\r\n"), "G", "usmf"), null, CancellationToken.None);

        var early = await Assert.ThrowsAsync<D365Exception>(() => client.GetExecutionSummaryStatusAsync(started.ExecutionId, CancellationToken.None));
        var done = await jobs.WaitAsync(started, CancellationToken.None);

        Assert.Contains("Execution details were not found", early.ServiceMessage);
        Assert.Equal("Succeeded", done.Status);
    }

    [Fact]
    public async Task Not_found_after_the_grace_period_is_an_error()
    {
        var (env, client, jobs, _) = await StartAsync();
        await using var _ = env;
        jobs.NotFoundGrace = TimeSpan.FromMilliseconds(100);

        var error = await Assert.ThrowsAsync<D365Exception>(() => jobs.WaitAsync(new PackageExecution { ExecutionId = "no-such-execution" }, CancellationToken.None));

        Assert.Equal("ExecutionDetailsNotFound", error.ErrorId);
        Assert.Equal(D365ErrorCategory.ObjectNotFound, error.Category);
        Assert.Contains("no-such-execution", error.ServiceMessage);
    }

    [Fact]
    public async Task A_wait_that_times_out_returns_the_last_status_not_terminal()
    {
        var (env, client, jobs, _) = await StartAsync(o =>
        {
            o.ProcessingDelay = TimeSpan.FromSeconds(30);
            o.ExecutionNotFoundEvery = 1;
        });
        await using var _ = env;
        jobs.Timeout = TimeSpan.FromMilliseconds(300);
        var started = await jobs.ImportAsync(new PackageImportRequest(Package(env, "g", "A\r\n"), "G", "usmf"), null, CancellationToken.None);

        var last = await jobs.WaitAsync(started, CancellationToken.None);

        Assert.False(last.IsTerminal);
        Assert.Equal("Unknown", last.Status);
        Assert.Equal("ExecutionWaitTimeout", jobs.WaitTimedOut(last).ErrorId);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Export_waits_fetches_the_package_url_and_saves_the_package_whole_with_either_value_shape(bool nested)
    {
        var (env, client, jobs, verbose) = await StartAsync(o => o.NestedPackageValues = nested);
        await using var _ = env;
        var output = Path.Combine(env.Folder, "exports");

        var result = await jobs.ExportAsync(new PackageExportRequest(WellKnown.DefinitionGroup, "usmf", output) { PackageName = "Groups export", Expand = true }, CancellationToken.None);

        Assert.Equal(("Export", "Succeeded", true), (result.Operation, result.Status, result.Succeeded));
        Assert.Equal(Path.Combine(output, "Groups export.zip"), result.Path);
        Assert.Equal(new FileInfo(result.Path!).Length, result.Length);
        Assert.Empty(Directory.GetFiles(output, ".*"));
        DataPackages.EnsureIsPackage(result.Path!);
        Assert.True(File.Exists(Path.Combine(output, "Groups export", "Manifest.xml")));
        Assert.True(File.Exists(Path.Combine(output, "Groups export", "Customer_groups.csv")));
        Assert.Empty(env.Emulator.Blobs.AuthorizationLeaks);
        Assert.DoesNotContain(verbose, line => line.Contains("sig=") && !line.Contains("sig=REDACTED"));
        Assert.DoesNotContain("sig=", result.SummaryPageUrl);
    }

    [Fact]
    public async Task Export_of_an_unknown_data_project_fails_with_the_services_message_and_saves_nothing()
    {
        var (env, client, jobs, _) = await StartAsync();
        await using var _ = env;
        var output = Path.Combine(env.Folder, "exports");

        var error = await Assert.ThrowsAsync<D365Exception>(() => jobs.ExportAsync(new PackageExportRequest("No such project", "usmf", output), CancellationToken.None));

        Assert.Contains("No such project", error.ServiceMessage);
        Assert.Empty(Directory.GetFiles(output));
    }

    [Fact]
    public async Task An_expired_storage_url_is_refused_and_the_error_shows_no_signature()
    {
        var (env, client, jobs, _) = await StartAsync(o => o.SasLifetime = TimeSpan.FromSeconds(-1));
        await using var _ = env;

        var error = await Assert.ThrowsAsync<D365Exception>(() => jobs.ImportAsync(new PackageImportRequest(Package(env, "g", "A\r\n"), "G", "usmf"), null, CancellationToken.None));

        Assert.Equal("PackageStorageRefused", error.ErrorId);
        Assert.Equal(D365ErrorCategory.PermissionDenied, error.Category);
        Assert.DoesNotContain("sig=", error.ToString());
        Assert.Empty(env.Emulator.Packages.Executions);
    }

    [Fact]
    public async Task A_lost_ImportFromPackageAsync_answer_is_not_sent_again_in_either_form()
    {
        var (env, client, jobs, _) = await StartAsync();
        await using var _ = env;
        env.Emulator.Faults.Add(new FaultRule { PathContains = "ImportFromPackageAsync", Kind = FaultKind.ResetAfterBody });

        var error = await Assert.ThrowsAsync<D365Exception>(() => jobs.ImportAsync(new PackageImportRequest(Package(env, "g", "A\r\n"), "G", "usmf"), null, CancellationToken.None));

        Assert.Equal("PackageOutcomeUnknown", error.ErrorId);
        Assert.StartsWith("ImportFromPackageAsync: ", error.Message);
        // The emulator records a request once its handler has ended, which may be just after the client saw the reset.
        for (var i = 0; i < 100 && !env.Emulator.State.Requests.Any(r => r.PathAndQuery.EndsWith("ImportFromPackageAsync")); i++) await Task.Delay(20);
        Assert.Single(env.Emulator.State.Requests, r => r.PathAndQuery.EndsWith("ImportFromPackageAsync"));
        Assert.DoesNotContain(env.Emulator.State.Requests, r => r.PathAndQuery.EndsWith("ImportFromPackage"));
        Assert.Single(env.Emulator.Packages.Executions);
    }

    [Fact]
    public async Task Import_and_export_use_the_asynchronous_actions()
    {
        var (env, client, jobs, _) = await StartAsync();
        await using var _ = env;

        var imported = await jobs.WaitAsync(await jobs.ImportAsync(new PackageImportRequest(Package(env, "a", "A\r\n"), "Async", "usmf"), null, CancellationToken.None), CancellationToken.None);
        var exported = await jobs.ExportAsync(new PackageExportRequest("Async", "usmf", Path.Combine(env.Folder, "out")), CancellationToken.None);

        Assert.Equal(("Succeeded", "Succeeded"), (imported.Status, exported.Status));
        Assert.True(File.Exists(exported.Path));
        var paths = env.Emulator.State.Requests.Select(r => r.PathAndQuery).ToList();
        Assert.Single(paths, p => p.EndsWith("ImportFromPackageAsync"));
        Assert.Single(paths, p => p.EndsWith("ExportToPackageAsync"));
        Assert.DoesNotContain(paths, p => p.EndsWith("ImportFromPackage") || p.EndsWith("ExportToPackage"));
    }

    [Fact]
    public async Task Where_the_environment_lacks_the_asynchronous_actions_the_synchronous_ones_are_used_after_one_404()
    {
        var (env, client, jobs, verbose) = await StartAsync(o => o.AsyncPackageActions = false);
        await using var _ = env;

        var first = await jobs.WaitAsync(await jobs.ImportAsync(new PackageImportRequest(Package(env, "a", "A\r\n"), "Sync", "usmf"), null, CancellationToken.None), CancellationToken.None);
        var second = await jobs.ImportAsync(new PackageImportRequest(Package(env, "b", "B\r\n"), "Sync 2", "usmf"), null, CancellationToken.None);
        var exported = await jobs.ExportAsync(new PackageExportRequest("Sync", "usmf", Path.Combine(env.Folder, "out")), CancellationToken.None);

        Assert.Equal("Succeeded", first.Status);
        Assert.Equal(3, env.Emulator.Packages.Executions.Count);
        var paths = env.Emulator.State.Requests.Select(r => r.PathAndQuery).ToList();
        Assert.Single(paths, p => p.EndsWith("ImportFromPackageAsync"));
        Assert.Equal(2, paths.Count(p => p.EndsWith("ImportFromPackage")));
        Assert.DoesNotContain(paths, p => p.EndsWith("ExportToPackageAsync"));
        Assert.Single(paths, p => p.EndsWith("ExportToPackage"));
        Assert.True(File.Exists(exported.Path));
        Assert.Contains(verbose, line => line.StartsWith("ImportFromPackageAsync: this environment does not have it (404)"));
    }

    [Fact]
    public async Task The_staging_error_file_is_saved_through_storage_and_none_is_null()
    {
        var (env, client, jobs, _) = await StartAsync();
        await using var _ = env;
        var package = Package(env, "bad", "CUSTGROUP\r\n10\r\nEMULATOR-ERROR: Group 20 has no terms of payment\r\n");
        var done = await jobs.WaitAsync(await jobs.ImportAsync(new PackageImportRequest(package, "Groups", "usmf"), null, CancellationToken.None), CancellationToken.None);

        var staging = await jobs.GetErrorFileAsync(ErrorFileKind.Staging, done.ExecutionId, "Customer groups", Path.Combine(env.Folder, "errors"), CancellationToken.None);
        var none = await jobs.GetErrorFileAsync(ErrorFileKind.Staging, done.ExecutionId, "Vendor groups", Path.Combine(env.Folder, "errors"), CancellationToken.None);

        Assert.NotNull(staging);
        Assert.Equal((ErrorFileKind.Staging, "Customer groups"), (staging!.ErrorFile, staging.EntityName));
        Assert.EndsWith("-stagingerrors.csv", staging.Path);
        Assert.Equal("LINENUMBER,STAGINGRECID,ERROR\r\n3,5637144576,\"Group 20 has no terms of payment\"\r\n", File.ReadAllText(staging.Path));
        Assert.Null(none);
        Assert.Single(Directory.GetFiles(Path.Combine(env.Folder, "errors")));
        Assert.Empty(env.Emulator.Blobs.AuthorizationLeaks);
    }

    [Fact]
    public async Task Storage_failures_are_retried_and_the_upload_completes()
    {
        var (env, client, jobs, _) = await StartAsync();
        await using var _ = env;
        env.Emulator.Faults.Add(new FaultRule { PathContains = "/dmf/", Kind = FaultKind.Status, StatusCode = 503, Times = 1 });
        env.Emulator.Faults.Add(new FaultRule { PathContains = "/dmf/", Kind = FaultKind.Reset, Times = 1 });

        var started = await jobs.ImportAsync(new PackageImportRequest(Package(env, "g", "A\r\n"), "G", "usmf"), null, CancellationToken.None);

        Assert.Equal("Succeeded", (await jobs.WaitAsync(started, CancellationToken.None)).Status);
        Assert.Equal(3, env.Emulator.State.Requests.Count(r => r.PathAndQuery.StartsWith("/dmf/") && r.Method == "PUT"));
    }

    [Fact]
    public async Task The_storage_host_records_a_token_sent_to_it_as_a_leak()
    {
        var (env, client, _, _) = await StartAsync();
        await using var _ = env;
        var (_, blobUrl) = await client.GetAzureWriteUrlAsync("x.zip", CancellationToken.None);
        using var handler = new HttpClientHandler { ServerCertificateCustomValidationCallback = (_, _, _, _) => true };
        using var http = new HttpClient(handler);
        using var request = new HttpRequestMessage(HttpMethod.Get, blobUrl);
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", "a-token");

        using var response = await http.SendAsync(request);

        Assert.Equal(403, (int)response.StatusCode);
        Assert.Single(env.Emulator.Blobs.AuthorizationLeaks);
    }

    private static string BlobSha256(Emulated env, string blobName)
    {
        using var blob = env.Emulator.Blobs.OpenRead(blobName)!;
        return Convert.ToHexString(SHA256.HashData(blob));
    }

    private static string Sha256(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexString(SHA256.HashData(stream));
    }
}

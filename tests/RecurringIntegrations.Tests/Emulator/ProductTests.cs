using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Net;
using System.Net.Http;
using System.Text;
using System.Text.Json;
using System.Threading.Tasks;
using Microsoft.AspNetCore.Http;
using RecurringIntegrations.Emulator;
using RecurringIntegrations.Tests.Cmdlets;
using Xunit;

namespace RecurringIntegrations.Tests.Emulator;

/// <summary>The emulator as a product of its own: scenario and environment files, the data folder, the certificate, the
/// admin endpoints, the operations faults match on, and --help.</summary>
public sealed class ProductTests : IDisposable
{
    private static readonly string EnqueuePath = $"api/connector/enqueue/{WellKnown.ImportActivity}?entity=Customer%20groups";
    private static readonly string DequeuePath = $"api/connector/dequeue/{WellKnown.ExportActivity}";
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "ri-emulator-tests", Guid.NewGuid().ToString("N"));

    public ProductTests() => Directory.CreateDirectory(_folder);

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public async Task A_scenario_file_sets_faults_by_operation_and_count_the_delay_not_found_first_and_throttling()
    {
        var options = new EmulatorOptions();
        var faults = new List<FaultRule>();
        ScenarioFiles.ApplyScenario(Write("scenario.json", """
            {
              // comments are allowed
              "processingDelayMs": 3600000,
              "notFoundFirst": "always",
              "notFoundStatusCode": 500,
              "throttling": { "callsPerSecond": 1000, "windowMs": 1000, "maxInFlight": 10 },
              "faults": [
                { "operation": "Enqueue", "kind": "429", "times": 2, "retryAfter": "3" },
                { "operation": "GetMessageStatus", "kind": "500-no-body" },
                { "operation": "GetMessageStatus", "kind": "500" },
                { "operation": "Download", "kind": "gateway-502" },
                { "operation": "Download", "kind": "gateway-504" },
                { "operation": "Download", "kind": "slow-body-1" },
                { "operation": "Ack", "kind": "reset" }
              ]
            }
            """), options, faults);
        await using var harness = await Start(options, faults);
        harness.Emulator.AddExportMessage(WellKnown.ExportActivity, "out.csv", new byte[3000]);

        var enqueues = new List<HttpResponseMessage>();
        for (var i = 0; i < 3; i++)
            enqueues.Add(await harness.Http.PostAsync(EnqueuePath, new ByteArrayContent([1])));
        var messageId = JsonSerializer.Deserialize<Guid>(await enqueues[2].Content.ReadAsStringAsync());
        var body = $"{{\"messageId\":\"{messageId}\"}}";
        var statuses = new[] { await harness.ActionAsync("GetMessageStatus", body), await harness.ActionAsync("GetMessageStatus", body), await harness.ActionAsync("GetMessageStatus", body) };
        using var dequeue = await harness.Http.GetAsync(DequeuePath);
        var dequeued = await dequeue.Content.ReadAsStringAsync();
        var location = JsonDocument.Parse(dequeued).RootElement.GetProperty("DownloadLocation").GetString();
        var downloads = new List<HttpResponseMessage>();
        for (var i = 0; i < 3; i++)
            downloads.Add(await harness.Http.GetAsync(location));
        var ack = await Assert.ThrowsAsync<HttpRequestException>(() => harness.Http.PostAsync($"api/connector/ack/{WellKnown.ExportActivity}", new StringContent(dequeued, Encoding.UTF8, "application/json")));
        var executionId = await harness.ActionValueAsync("ExportToPackage",
            "{\"definitionGroupId\":\"" + WellKnown.DefinitionGroup + "\",\"packageName\":\"p\",\"executionId\":\"\",\"reExecute\":false,\"legalEntityId\":\"usmf\"}");
        var summary = await harness.ActionAsync("GetExecutionSummaryStatus", $"{{\"executionId\":\"{executionId}\"}}");

        Assert.Equal([429, 429, 200], enqueues.Select(r => (int)r.StatusCode));
        Assert.Equal("3", enqueues[0].Headers.RetryAfter!.ToString());
        Assert.Equal((500, ""), statuses[0]);
        Assert.Equal(500, statuses[1].Status);
        Assert.Contains("Fault injected", ClientCompatibilityTests.ODataInnerMessage(statuses[1].Body));
        Assert.Equal((200, "Enqueued"), (statuses[2].Status, JsonDocument.Parse(statuses[2].Body).RootElement.GetProperty("value").GetString()));
        Assert.Equal([502, 504, 200], downloads.Select(r => (int)r.StatusCode));
        Assert.Equal("text/html", downloads[0].Content.Headers.ContentType!.MediaType);
        Assert.Equal(3000, (await downloads[2].Content.ReadAsByteArrayAsync()).Length);
        Assert.Empty(harness.Emulator.State.Acknowledged);
        Assert.Equal(500, summary.Status);
        Assert.Equal(TimeSpan.FromHours(1), options.ProcessingDelay);
        Assert.Equal((1000, 10), (options.Throttling!.CallsPerSecond, options.Throttling.MaxInFlight));
        Assert.Contains(harness.Emulator.State.Requests, r => r.Fault == FaultKind.SlowBody && r.StatusCode == 200);
        Assert.Contains(harness.Emulator.State.Requests, r => r.Fault == FaultKind.Reset && r.StatusCode == 0);
        foreach (var response in enqueues.Concat(downloads)) response.Dispose();
    }

    [Fact]
    public void The_throttled_scenario_the_README_starts_with_reads_as_it_says()
    {
        var options = new EmulatorOptions();
        var faults = new List<FaultRule>();

        ScenarioFiles.ApplyScenario(Path.Combine(BuiltModule.RepositoryRoot, "src", "RecurringIntegrations.Emulator", "Scenarios", "throttled.json"), options, faults);

        Assert.Equal(TimeSpan.FromSeconds(1), options.ProcessingDelay);
        Assert.Equal([("Enqueue", 429, 1), ("GetMessageStatus", 500, 1)], faults.Select(f => (f.Operation, f.StatusCode, f.Times)));
    }

    [Fact]
    public async Task The_storage_answers_ranges_as_Azure_does_and_waits_the_scenarios_latency_first()
    {
        var options = new EmulatorOptions();
        ScenarioFiles.ApplyScenario(Write("latency.json", """{ "storageLatencyMs": 40 }"""), options, new List<FaultRule>());
        Assert.Equal(TimeSpan.FromMilliseconds(40), options.StorageLatency);
        await using var harness = await Start(options, new List<FaultRule>());
        const string blob = "ranges.bin";
        harness.Emulator.Blobs.Store(blob, stream => stream.Write(Enumerable.Range(0, 100).Select(i => (byte)i).ToArray()));
        var context = new DefaultHttpContext();
        context.Request.Scheme = "https";
        context.Request.Host = new HostString("127.0.0.1", harness.Emulator.BaseUri.Port);
        var url = harness.Emulator.Blobs.SasUrl(context, blob, "r");

        // No token goes to storage: a client of its own, not the harness's.
        using var http = new HttpClient(new HttpClientHandler { ServerCertificateCustomValidationCallback = (_, _, _, _) => true });
        async Task<HttpResponseMessage> GetAsync(string? range)
        {
            var request = new HttpRequestMessage(HttpMethod.Get, url);
            if (range is not null) request.Headers.TryAddWithoutValidation("Range", range);
            return await http.SendAsync(request);
        }

        var watch = System.Diagnostics.Stopwatch.StartNew();
        using var whole = await GetAsync(null);
        var took = watch.Elapsed;
        using var part = await GetAsync("bytes=10-19");
        using var tail = await GetAsync("bytes=95-200");
        using var past = await GetAsync("bytes=100-199");

        Assert.True(took >= TimeSpan.FromMilliseconds(40), $"the call took {took.TotalMilliseconds} ms");
        Assert.Equal((HttpStatusCode.OK, "bytes", 100), (whole.StatusCode, whole.Headers.AcceptRanges.Single(), (await whole.Content.ReadAsByteArrayAsync()).Length));
        Assert.Equal(HttpStatusCode.PartialContent, part.StatusCode);
        Assert.Equal("bytes 10-19/100", part.Content.Headers.ContentRange!.ToString());
        Assert.Equal(Enumerable.Range(10, 10).Select(i => (byte)i), await part.Content.ReadAsByteArrayAsync());
        Assert.Equal("bytes 95-99/100", tail.Content.Headers.ContentRange!.ToString());
        Assert.Equal(5, (await tail.Content.ReadAsByteArrayAsync()).Length);
        Assert.Equal((HttpStatusCode.RequestedRangeNotSatisfiable, "InvalidRange"), (past.StatusCode, past.Headers.GetValues("x-ms-error-code").Single()));
    }

    [Theory]
    [InlineData("""{ "faults": [ { "kind": "teapot" } ] }""", "fault kind 'teapot' is not one of")]
    [InlineData("""{ "processingDelay": 5 }""", "processingDelay")]
    [InlineData("""{ "notFoundFirst": "often" }""", "notFoundFirst 'often'")]
    [InlineData("""{ "notFoundStatusCode": 404 }""", "notFoundStatusCode must be 400 or 500")]
    [InlineData("""{ "faults": [ { "operation": "Enqueue" } ] }""", "every fault needs a kind")]
    [InlineData("""{ "throttling": { "callsPerSecond": 0 } }""", "callsPerSecond must be above 0")]
    public void A_scenario_that_cannot_be_read_is_refused_naming_the_file_and_the_problem(string json, string problem)
    {
        var file = Write("bad.json", json);

        var error = Assert.Throws<ArgumentException>(() => ScenarioFiles.ApplyScenario(file, new EmulatorOptions(), new List<FaultRule>()));

        Assert.StartsWith(file + ": ", error.Message);
        Assert.Contains(problem, error.Message);
    }

    [Fact]
    public async Task An_environment_file_declares_the_activities_and_data_projects()
    {
        var import = Guid.NewGuid();
        var export = Guid.NewGuid();
        var options = new EmulatorOptions { ProcessingDelay = TimeSpan.Zero };
        ScenarioFiles.ApplyEnvironment(Write("environment.json", $$"""
            {
              "activities": [
                { "id": "{{import}}", "kind": "Import", "name": "Customer groups in" },
                { "id": "{{export}}", "kind": "export" }
              ],
              "dataProjects": [ { "name": "Vendors", "entities": [ "Vendors V2" ] } ]
            }
            """), options);
        await using var harness = await Start(options, []);

        using var declared = await harness.Http.PostAsync($"api/connector/enqueue/{import}?entity=Customer%20groups", new ByteArrayContent([1]));
        using var builtIn = await harness.Http.PostAsync(EnqueuePath, new ByteArrayContent([1]));
        using var dequeue = await harness.Http.GetAsync($"api/connector/dequeue/{export}");
        var exported = await harness.ActionAsync("ExportToPackage",
            "{\"definitionGroupId\":\"Vendors\",\"packageName\":\"p\",\"executionId\":\"\",\"reExecute\":false,\"legalEntityId\":\"usmf\"}");

        Assert.Equal(HttpStatusCode.OK, declared.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, builtIn.StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, dequeue.StatusCode);
        Assert.Equal(200, exported.Status);
    }

    [Theory]
    [InlineData("""{ "activities": [ { "id": "nope", "kind": "Import" } ] }""", "activity id 'nope' is not a GUID")]
    [InlineData("""{ "activities": [ { "id": "6ab0c2f1-3d1e-4c5f-9a11-0d2b7f3e1a77", "kind": "Both" } ] }""", "kind 'Both' is not Import or Export")]
    [InlineData("""{ "dataProjects": [ { "name": "P", "exportPackage": "missing.zip" } ] }""", "exportPackage")]
    [InlineData("""{ "jobs": [] }""", "jobs")]
    public void An_environment_file_that_cannot_be_read_is_refused_naming_the_problem(string json, string problem)
    {
        var file = Write("environment.json", json);

        var error = Assert.Throws<ArgumentException>(() => ScenarioFiles.ApplyEnvironment(file, new EmulatorOptions()));

        Assert.StartsWith(file + ": ", error.Message);
        Assert.Contains(problem, error.Message);
    }

    [Fact]
    public async Task With_a_data_folder_queues_messages_packages_and_the_certificate_survive_a_restart()
    {
        var data = Path.Combine(_folder, "data");
        string receipt, thumbprint, executionId;
        Guid messageId, correlationId;
        await using (var first = await Start(new EmulatorOptions { DataFolder = data, ProcessingDelay = TimeSpan.Zero }, []))
        {
            thumbprint = first.Emulator.ServerCertificate.Thumbprint;
            using var enqueue = await first.Http.PostAsync(EnqueuePath, new ByteArrayContent(Encoding.UTF8.GetBytes("EMULATOR-ERROR: bad row\n")));
            messageId = JsonSerializer.Deserialize<Guid>(await enqueue.Content.ReadAsStringAsync());
            correlationId = first.Emulator.AddExportMessage(WellKnown.ExportActivity, "out.csv", [7, 8, 9]);
            using var dequeue = await first.Http.GetAsync(DequeuePath);
            receipt = await dequeue.Content.ReadAsStringAsync();
            executionId = await first.ActionValueAsync("ExportToPackage",
                "{\"definitionGroupId\":\"" + WellKnown.DefinitionGroup + "\",\"packageName\":\"p\",\"executionId\":\"\",\"reExecute\":false,\"legalEntityId\":\"usmf\"}");
        }

        await using var second = await Start(new EmulatorOptions { DataFolder = data, ProcessingDelay = TimeSpan.Zero }, []);
        var status = await second.StatusOfAsync(messageId);
        var executionOfMessage = await second.ActionValueAsync("GetExecutionIdByMessageId", $"{{\"_messageId\":\"{messageId}\"}}");
        var errors = await second.ActionValueAsync("GetExecutionErrors", $"{{\"executionId\":\"{executionOfMessage}\"}}");
        var location = JsonDocument.Parse(receipt).RootElement.GetProperty("DownloadLocation").GetString()!;
        using var download = await second.Http.GetAsync(location.Replace(new Uri(location).Authority, second.Emulator.BaseUri.Authority));
        using var ack = await second.Http.PostAsync($"api/connector/ack/{WellKnown.ExportActivity}", new StringContent(receipt, Encoding.UTF8, "application/json"));
        var packageUrl = await second.ActionValueAsync("GetExportedPackageUrl", $"{{\"executionId\":\"{executionId}\"}}");
        using var package = await second.CreateClient(null).GetAsync(packageUrl);

        Assert.Equal(thumbprint, second.Emulator.ServerCertificate.Thumbprint);
        Assert.Equal("ProcessedWithErrors", status);
        Assert.Contains("bad row", errors);
        Assert.Equal([7, 8, 9], await download.Content.ReadAsByteArrayAsync());
        Assert.Equal(HttpStatusCode.OK, ack.StatusCode);
        Assert.Equal([correlationId], second.Emulator.State.Acknowledged);
        Assert.Equal(HttpStatusCode.OK, package.StatusCode);
        Assert.True(Directory.Exists(Path.Combine(data, "blobs")));
    }

    [Fact]
    public async Task The_exported_certificate_is_the_one_served_and_a_client_trusting_only_it_connects()
    {
        await using var harness = await Start(new EmulatorOptions(), []);
        var file = Path.Combine(_folder, "emulator.cer");

        harness.Emulator.ExportCertificate(file);
        var exported = System.Security.Cryptography.X509Certificates.X509CertificateLoader.LoadCertificateFromFile(file);
        using var handler = new SocketsHttpHandler { AllowAutoRedirect = false };
        handler.SslOptions.CertificateChainPolicy = new System.Security.Cryptography.X509Certificates.X509ChainPolicy
        {
            TrustMode = System.Security.Cryptography.X509Certificates.X509ChainTrustMode.CustomRootTrust,
            RevocationMode = System.Security.Cryptography.X509Certificates.X509RevocationMode.NoCheck,
            CustomTrustStore = { exported },
        };
        using var client = new HttpClient(handler);
        using var response = await client.GetAsync(harness.Emulator.BaseUri);

        Assert.False(exported.HasPrivateKey);
        Assert.Equal(harness.Emulator.ServerCertificate.Thumbprint, exported.Thumbprint);
        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
    }

    [Fact]
    public async Task The_admin_endpoints_queue_an_export_mark_its_file_bad_list_messages_and_reset_without_being_recorded()
    {
        await using var harness = await Start(new EmulatorOptions(), []);
        using var admin = harness.CreateClient(null);

        using var queued = await admin.PostAsync($"emulator/exports/{WellKnown.ExportActivity}?name=rates.csv", new ByteArrayContent([1, 2]));
        var correlationId = JsonDocument.Parse(await queued.Content.ReadAsStringAsync()).RootElement.GetProperty("correlationId").GetGuid();
        using var bad = await admin.PostAsync($"emulator/exports/{correlationId}/file-missing", null);
        using var dequeue = await harness.Http.GetAsync(DequeuePath);
        var dequeued = JsonDocument.Parse(await dequeue.Content.ReadAsStringAsync()).RootElement;
        using var download = await harness.Http.GetAsync(dequeued.GetProperty("DownloadLocation").GetString());
        var missingBody = await download.Content.ReadAsStringAsync();
        using var messages = await admin.GetAsync("emulator/messages");
        var listed = JsonDocument.Parse(await messages.Content.ReadAsStringAsync()).RootElement;
        var recorded = harness.Emulator.State.Requests.Count;
        using var reset = await admin.PostAsync("emulator/reset", null);
        using var unknownActivity = await admin.PostAsync($"emulator/exports/{WellKnown.ImportActivity}", new ByteArrayContent([1]));

        Assert.Equal(HttpStatusCode.NoContent, bad.StatusCode);
        Assert.False(dequeued.GetProperty("IsDownLoadFileExist").GetBoolean());
        Assert.Equal(HttpStatusCode.NotFound, download.StatusCode);
        Assert.Contains("<Code>BlobNotFound</Code>", missingBody);
        Assert.NotEqual("", dequeued.GetProperty("FileDownLoadErrorMessage").GetString());
        var export = Assert.Single(listed.GetProperty("exports").EnumerateArray());
        Assert.Equal((correlationId, "rates.csv", 1, true), (export.GetProperty("correlationId").GetGuid(), export.GetProperty("fileName").GetString(),
            export.GetProperty("dequeueCount").GetInt32(), export.GetProperty("fileMissing").GetBoolean()));
        Assert.Equal(2, recorded);
        Assert.Equal(HttpStatusCode.NoContent, reset.StatusCode);
        Assert.Empty(harness.Emulator.State.Exports);
        Assert.Empty(harness.Emulator.State.Requests);
        Assert.Equal(HttpStatusCode.BadRequest, unknownActivity.StatusCode);
    }

    [Fact]
    public async Task The_download_of_a_file_marked_bad_is_storages_BlobNotFound()
    {
        await using var harness = await Start(new EmulatorOptions(), []);
        harness.Emulator.AddExportMessage(WellKnown.ExportActivity, "out.csv", [1]);
        using var dequeue = await harness.Http.GetAsync(DequeuePath);
        var dequeued = JsonDocument.Parse(await dequeue.Content.ReadAsStringAsync()).RootElement;
        harness.Emulator.State.MarkFileMissing(dequeued.GetProperty("CorrelationId").GetGuid());

        using var download = await harness.Http.GetAsync(dequeued.GetProperty("DownloadLocation").GetString());

        Assert.Equal(HttpStatusCode.NotFound, download.StatusCode);
        Assert.Contains("<Code>BlobNotFound</Code>", await download.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task A_fault_by_operation_hits_the_operation_the_route_chose_and_no_other()
    {
        await using var harness = await Start(new EmulatorOptions(), []);
        harness.Emulator.Faults.Add(new FaultRule { Operation = "Dequeue", Kind = FaultKind.Status, StatusCode = 503, Times = -1 });
        harness.Emulator.AddExportMessage(WellKnown.ExportActivity, "out.csv", [1]);

        using var dequeue = await harness.Http.GetAsync(DequeuePath);
        using var enqueue = await harness.Http.PostAsync(EnqueuePath, new ByteArrayContent([1]));

        Assert.Equal(HttpStatusCode.ServiceUnavailable, dequeue.StatusCode);
        Assert.Equal(HttpStatusCode.OK, enqueue.StatusCode);
    }

    [Fact]
    public async Task Unknown_service_paths_need_the_token_and_then_answer_the_odata_404_other_paths_an_empty_404()
    {
        await using var harness = await Start(new EmulatorOptions(), []);

        using var withToken = await harness.Http.GetAsync("api/connector/enqueue/x");
        using var withoutToken = await harness.CreateClient(null).GetAsync("data/Customers");
        using var elsewhere = await harness.Http.GetAsync("nowhere/at/all");

        Assert.Equal(HttpStatusCode.NotFound, withToken.StatusCode);
        Assert.Contains("No HTTP resource", ClientCompatibilityTests.ODataInnerMessage(await withToken.Content.ReadAsStringAsync()));
        Assert.Equal(HttpStatusCode.Unauthorized, withoutToken.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, elsewhere.StatusCode);
        Assert.Empty(await elsewhere.Content.ReadAsByteArrayAsync());
    }

    [Theory]
    [InlineData("--port")]
    [InlineData("--http")]
    [InlineData("--export-certificate")]
    [InlineData("--data-folder")]
    [InlineData("--environment")]
    [InlineData("--scenario")]
    [InlineData("--tenant")]
    [InlineData("--client-id")]
    [InlineData("--client-secret")]
    [InlineData("--client-certificate")]
    [InlineData("--processing-delay-ms")]
    [InlineData("--http-download-location")]
    [InlineData("--export-folder")]
    [InlineData("--ready-file")]
    [InlineData("--blob-folder")]
    [InlineData("--blob-host")]
    [InlineData("--proxy-port")]
    [InlineData("--proxy-credential")]
    [InlineData("--definition-group")]
    [InlineData("--export-package")]
    [InlineData("--fault")]
    [InlineData("--throttle-rate")]
    [InlineData("--throttle-window-ms")]
    [InlineData("--throttle-in-flight")]
    [InlineData("--on-premises")]
    [InlineData("--help")]
    [InlineData("/emulator/reset")]
    [InlineData("file-missing")]
    public void Help_lists_every_option_and_the_admin_endpoints(string option) =>
        Assert.Contains(option + " ", Program.Usage);

    private string Write(string name, string text)
    {
        var file = Path.Combine(_folder, name);
        File.WriteAllText(file, text);
        return file;
    }

    private static async Task<EmulatorHarness> Start(EmulatorOptions options, IEnumerable<FaultRule> faults)
    {
        var harness = await EmulatorHarness.StartAsync(options);
        foreach (var fault in faults) harness.Emulator.Faults.Add(fault);
        return harness;
    }
}

using System;
using System.Collections.Generic;
using System.Linq;
using System.Net;
using System.Net.Http;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Threading.Tasks;
using RecurringIntegrations.Emulator;
using Xunit;

namespace RecurringIntegrations.Tests.Emulator;

/// <summary>
/// The places where the emulator turned away Microsoft's Recurring Integrations Scheduler (issue 23, points 1-6), each
/// spoken to as that client does: its URLs (bare activity ids, jobId with the enqueue answer's quotes stripped), its
/// headers (Bearer, Accept: application/json, x-ms-dyn-externalidentifier) and its parsing (a JSON object read by name,
/// <c>value</c> turned into a string or a Uri). Time is set through the processing delay: 0 ends a job at once, an hour
/// holds it where it starts.
/// </summary>
public sealed class ClientCompatibilityTests
{
    private static readonly TimeSpan Hour = TimeSpan.FromHours(1);

    // 1. jobstatus

    [Fact]
    public async Task Jobstatus_answers_a_DataJobStatusDetail_with_the_state_as_a_number_while_the_job_waits()
    {
        await using var harness = await EmulatorHarness.StartAsync(o => o.ProcessingDelay = Hour);
        var jobId = await SchedulerEnqueueAsync(harness, "CUSTGROUP\r\n10\r\n", "groups.csv");

        var detail = await SchedulerJobStatusAsync(harness, jobId);

        var status = detail.GetProperty("DataJobStatus");
        Assert.Equal(JsonValueKind.Number, status.GetProperty("DataJobState").ValueKind);
        Assert.Equal(0, status.GetProperty("DataJobState").GetInt32()); // Enqueued
        Assert.Equal(jobId.Trim('"'), status.GetProperty("DataJobIdentifier").GetString());
        Assert.Equal("groups.csv", status.GetProperty("ExternalIdentifier").GetString());
        Assert.Equal(JsonValueKind.String, detail.GetProperty("ExecutionLog").ValueKind);
        Assert.Empty(detail.GetProperty("ExecutionDetail").EnumerateArray());
    }

    [Theory]
    [InlineData("CUSTGROUP\r\n10\r\n", 5, 0)] // Processed
    [InlineData("CUSTGROUP\r\nEMULATOR-ERROR: Group 99 does not exist\r\n", 6, 1)] // ProcessedWithErrors
    [InlineData("EMULATOR-PREPROCESSING-ERROR\r\n", 8, 0)] // PreProcessError
    public async Task Jobstatus_of_a_finished_job_names_its_final_state_by_number_and_its_entity_row(string content, int state, int errors)
    {
        await using var harness = await EmulatorHarness.StartAsync(o => o.ProcessingDelay = TimeSpan.Zero);
        var jobId = await SchedulerEnqueueAsync(harness, content, "groups.csv");

        var detail = await SchedulerJobStatusAsync(harness, jobId);

        var status = detail.GetProperty("DataJobStatus");
        Assert.Equal(state, status.GetProperty("DataJobState").GetInt32());
        Assert.True(DateTime.TryParse(status.GetProperty("DataJobCompletedDateTime").GetString(), out _));
        Assert.NotEqual("", status.GetProperty("ExecutionIdentifier").GetString());
        var entity = Assert.Single(detail.GetProperty("ExecutionDetail").EnumerateArray());
        Assert.Equal("Customer groups", entity.GetProperty("EntityName").GetString());
        Assert.Equal(errors, entity.GetProperty("TargetErrorCount").GetInt32());
        Assert.Equal(JsonValueKind.Number, entity.GetProperty("TargetStatus").ValueKind);
    }

    [Fact]
    public async Task Jobstatus_of_an_unknown_job_is_400_with_the_odata_error()
    {
        await using var harness = await EmulatorHarness.StartAsync();

        using var response = await harness.Http.GetAsync($"api/connector/jobstatus/{WellKnown.ImportActivity}?jobId={Guid.NewGuid()}");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("was not found", ODataInnerMessage(await response.Content.ReadAsStringAsync()));
    }

    // 2. "not found" first only sometimes, NotRun among the statuses

    [Fact]
    public async Task Package_status_passes_through_NotRun_and_by_default_only_every_second_execution_is_not_found_first()
    {
        await using var harness = await EmulatorHarness.StartAsync(o => o.ProcessingDelay = Hour);

        var first = await ExportToPackageAsync(harness);
        var second = await ExportToPackageAsync(harness);
        var third = await ExportToPackageAsync(harness);

        Assert.Equal((200, "NotRun"), await SummaryStatusAsync(harness, first));
        Assert.Equal(400, (await SummaryStatusAsync(harness, second)).Status);
        Assert.Equal((200, "NotRun"), await SummaryStatusAsync(harness, third));
        var (_, body) = await harness.ActionAsync("GetExecutionSummaryStatus", $"{{\"executionId\":\"{second}\"}}");
        Assert.Contains("Execution details were not found", ODataInnerMessage(body));
    }

    [Theory]
    [InlineData(1, 400)]
    [InlineData(0, 200)]
    public async Task Not_found_first_is_set_by_scenario(int every, int firstStatus)
    {
        await using var harness = await EmulatorHarness.StartAsync(o =>
        {
            o.ProcessingDelay = Hour;
            o.ExecutionNotFoundEvery = every;
        });

        var first = await ExportToPackageAsync(harness);
        var second = await ExportToPackageAsync(harness);

        Assert.Equal(firstStatus, (await SummaryStatusAsync(harness, first)).Status);
        Assert.Equal(firstStatus, (await SummaryStatusAsync(harness, second)).Status);
    }

    [Fact]
    public async Task The_schedulers_export_flow_succeeds_on_a_fresh_emulator_and_downloads_through_the_flat_value()
    {
        await using var harness = await EmulatorHarness.StartAsync(o => o.ProcessingDelay = TimeSpan.Zero);

        // ExportToPackage, then GetExecutionSummaryStatus read as jsonResponse["value"].ToString() until Succeeded.
        var executionId = await ExportToPackageAsync(harness);
        var (status, summary) = await SummaryStatusAsync(harness, executionId);
        // GetExportedPackageUrl read as new Uri(jsonResponse["value"].ToString()), then a plain GET without the token.
        var (_, body) = await harness.ActionAsync("GetExportedPackageUrl", $"{{\"executionId\":\"{executionId}\"}}");
        var url = new Uri(JsonDocument.Parse(body).RootElement.GetProperty("value").ToString());
        using var download = await harness.CreateClient(null).GetAsync(url);

        Assert.Equal((200, "Succeeded"), (status, summary));
        Assert.Equal(HttpStatusCode.OK, download.StatusCode);
        Assert.Equal("PK"u8.ToArray(), (await download.Content.ReadAsByteArrayAsync())[..2]);
    }

    // 3. default port 443

    [Theory]
    [InlineData(true, 443, "https://127.0.0.1")]
    [InlineData(false, 80, "http://127.0.0.1")]
    [InlineData(true, 8443, "https://127.0.0.1:8443")]
    [InlineData(false, 443, "http://127.0.0.1:443")]
    public void The_advertised_environment_leaves_out_only_the_schemes_default_port(bool https, int port, string expected) =>
        Assert.Equal(expected, D365Emulator.EnvironmentUrl(https, port));

    [Fact]
    public async Task On_the_default_port_SAS_URLs_and_download_locations_have_no_empty_port_and_the_audience_matches()
    {
        // A client of https://127.0.0.1 (port 443) sends "Host: 127.0.0.1": the emulator answers what it answers on 443.
        await using var harness = await EmulatorHarness.StartAsync();
        harness.Emulator.AddExportMessage(WellKnown.ExportActivity, "out.csv", [1]);
        using var client = harness.CreateClient(harness.Emulator.IssueToken("https://127.0.0.1"));

        using var writeUrl = await SendWithHostAsync(client, HttpMethod.Post, EmulatorHarness.ActionPath + "GetAzureWriteUrl", "{\"uniqueFileName\":\"p\"}");
        using var dequeue = await SendWithHostAsync(client, HttpMethod.Get, $"api/connector/dequeue/{WellKnown.ExportActivity}", null);

        Assert.Equal(HttpStatusCode.OK, writeUrl.StatusCode);
        var blob = JsonDocument.Parse(JsonDocument.Parse(await writeUrl.Content.ReadAsStringAsync()).RootElement.GetProperty("value").GetString()!);
        Assert.StartsWith("https://localhost/dmf/", blob.RootElement.GetProperty("BlobUrl").GetString());
        Assert.Equal(HttpStatusCode.OK, dequeue.StatusCode);
        var location = JsonDocument.Parse(await dequeue.Content.ReadAsStringAsync()).RootElement.GetProperty("DownloadLocation").GetString();
        Assert.StartsWith("https://127.0.0.1/api/connector/download/", location);
    }

    // 4. the v1 token endpoint

    [Fact]
    public async Task The_v1_token_endpoint_takes_resource_and_its_token_opens_the_api()
    {
        await using var harness = await EmulatorHarness.StartAsync();
        var options = harness.Emulator.Options;
        using var anonymous = harness.CreateClient(null);

        using var response = await anonymous.PostAsync($"{options.TenantId}/oauth2/token", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "client_credentials",
            ["client_id"] = options.ClientId,
            ["client_secret"] = options.ClientSecret,
            ["resource"] = harness.Emulator.Environment,
        }));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var root = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal("3599", root.GetProperty("expires_in").GetString());
        Assert.Equal(harness.Emulator.Environment, root.GetProperty("resource").GetString());
        using var client = harness.CreateClient(root.GetProperty("access_token").GetString());
        using var dequeue = await client.GetAsync($"api/connector/dequeue/{WellKnown.ExportActivity}");
        Assert.Equal(HttpStatusCode.NoContent, dequeue.StatusCode);
    }

    [Fact]
    public async Task The_v1_token_endpoint_without_resource_is_the_entra_error_naming_it()
    {
        await using var harness = await EmulatorHarness.StartAsync();
        var options = harness.Emulator.Options;
        using var anonymous = harness.CreateClient(null);

        using var response = await anonymous.PostAsync($"{options.TenantId}/oauth2/token", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "client_credentials",
            ["client_id"] = options.ClientId,
            ["client_secret"] = options.ClientSecret,
        }));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var description = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("error_description").GetString();
        Assert.StartsWith("AADSTS900144: The request body must contain the following parameter: 'resource'.", description);
    }

    // 5. the flat value

    [Fact]
    public async Task ExportToPackage_and_GetExportedPackageUrl_answer_a_flat_string_value()
    {
        await using var harness = await EmulatorHarness.StartAsync(o => o.ProcessingDelay = TimeSpan.Zero);

        var (_, exported) = await harness.ActionAsync("ExportToPackage", ExportBody);
        var executionId = JsonDocument.Parse(exported).RootElement.GetProperty("value");
        var (_, url) = await harness.ActionAsync("GetExportedPackageUrl", $"{{\"executionId\":\"{executionId.GetString()}\"}}");

        Assert.Equal(JsonValueKind.String, executionId.ValueKind);
        Assert.Equal(JsonValueKind.String, JsonDocument.Parse(url).RootElement.GetProperty("value").ValueKind);
    }

    [Fact]
    public async Task The_nested_value_is_no_option_of_the_standalone_emulator()
    {
        var exit = await Program.Main(["--nested-package-values"]);

        Assert.Equal(2, exit);
        Assert.DoesNotContain("nested", Program.Usage);
    }

    // 6. GET /, the unknown activity, GetExecutionErrors of an unknown id

    [Fact]
    public async Task The_root_with_a_token_is_200_as_the_schedulers_connection_check_expects()
    {
        await using var harness = await EmulatorHarness.StartAsync();

        using var response = await harness.Http.GetAsync("");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType!.MediaType);
    }

    [Fact]
    public async Task The_root_without_a_token_sends_the_caller_to_sign_in()
    {
        await using var harness = await EmulatorHarness.StartAsync();
        using var client = harness.CreateClient(null);

        using var response = await client.GetAsync("");
        using var signIn = await client.GetAsync(response.Headers.Location);

        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        Assert.StartsWith($"{harness.Emulator.Environment}/{harness.Emulator.Options.TenantId}/oauth2/authorize?", response.Headers.Location!.ToString());
        Assert.Equal(HttpStatusCode.OK, signIn.StatusCode);
        Assert.Contains("Sign in", await signIn.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Dequeue_with_the_all_zero_activity_is_the_services_500_that_the_connection_check_reads_as_access_works()
    {
        await using var harness = await EmulatorHarness.StartAsync();

        using var response = await harness.Http.GetAsync($"api/connector/dequeue/{Guid.Empty}");

        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        Assert.Contains(Guid.Empty.ToString(), ODataInnerMessage(await response.Content.ReadAsStringAsync()));
    }

    [Fact]
    public async Task GetExecutionErrors_of_an_unknown_execution_is_not_found_not_an_empty_list()
    {
        await using var harness = await EmulatorHarness.StartAsync();

        var (status, body) = await harness.ActionAsync("GetExecutionErrors", "{\"executionId\":\"no-such-execution\"}");

        Assert.Equal(400, status);
        Assert.Contains("Execution details were not found for execution id 'no-such-execution'", ODataInnerMessage(body));
    }

    private const string ExportBody =
        "{\"definitionGroupId\":\"" + WellKnown.DefinitionGroup + "\",\"packageName\":\"p\",\"executionId\":\"\",\"reExecute\":false,\"legalEntityId\":\"usmf\"}";

    /// <summary>The scheduler's upload: the file as a stream, its name as the external identifier; it keeps the answer
    /// (a JSON string, quotes included) as the job id.</summary>
    private static async Task<string> SchedulerEnqueueAsync(EmulatorHarness harness, string content, string fileName)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, $"api/connector/enqueue/{WellKnown.ImportActivity}?entity=Customer groups")
        {
            Content = new StreamContent(new System.IO.MemoryStream(Encoding.UTF8.GetBytes(content))),
        };
        request.Headers.Add("x-ms-dyn-externalidentifier", fileName);
        using var response = await harness.Http.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadAsStringAsync();
    }

    /// <summary>The scheduler's ProcessingMonitor: GET jobstatus with jobId = the enqueue answer without its quotes.</summary>
    private static async Task<JsonElement> SchedulerJobStatusAsync(EmulatorHarness harness, string jobId)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"api/connector/jobstatus/{WellKnown.ImportActivity}?jobId={jobId.Replace("\"", "")}");
        using var response = await harness.Http.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
    }

    private static async Task<string> ExportToPackageAsync(EmulatorHarness harness) =>
        await harness.ActionValueAsync("ExportToPackage", ExportBody);

    private static async Task<(int Status, string? Value)> SummaryStatusAsync(EmulatorHarness harness, string executionId)
    {
        var (status, body) = await harness.ActionAsync("GetExecutionSummaryStatus", $"{{\"executionId\":\"{executionId}\"}}");
        return (status, status == 200 ? JsonDocument.Parse(body).RootElement.GetProperty("value").ToString() : null);
    }

    private static async Task<HttpResponseMessage> SendWithHostAsync(HttpClient client, HttpMethod method, string path, string? json)
    {
        using var request = new HttpRequestMessage(method, path);
        request.Headers.Host = "127.0.0.1";
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        if (json is not null)
            request.Content = new StringContent(json, Encoding.UTF8, "application/json");
        return await client.SendAsync(request);
    }

    internal static string ODataInnerMessage(string body) =>
        JsonDocument.Parse(body).RootElement.GetProperty("error").GetProperty("innererror").GetProperty("message").GetString()!;
}

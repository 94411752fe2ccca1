using System;
using System.Linq;
using System.Net.Http;
using System.Text;
using System.Text.Json;
using System.Threading.Tasks;
using RecurringIntegrations.Tests.Support;
using Xunit;

namespace RecurringIntegrations.Tests.Emulator;

public sealed class ImportStatusTests
{
    [Fact]
    public async Task Message_status_answers_the_odata_context_and_value_exactly()
    {
        await using var harness = await EmulatorHarness.StartAsync(o => o.ProcessingDelay = TimeSpan.FromMinutes(1));
        var messageId = await harness.EnqueueAsync("a,b");

        var (status, body) = await harness.ActionAsync("GetMessageStatus", $"{{\"messageId\":\"{messageId}\"}}");

        Assert.Equal(200, status);
        Assert.Equal($"{{\"@odata.context\":\"{harness.Emulator.Environment}/data/$metadata#Edm.String\",\"value\":\"Enqueued\"}}", body);
    }

    [Fact]
    public async Task Import_goes_from_Enqueued_through_Processing_to_Processed()
    {
        // Each status lasts one processing delay on the service's clock, which the test moves.
        var serviceClock = new ManualClock(DateTimeOffset.UtcNow);
        await using var harness = await EmulatorHarness.StartAsync(o => { o.ProcessingDelay = TimeSpan.FromSeconds(1.5); o.Time = serviceClock; });
        var messageId = await harness.EnqueueAsync("a,b\n1,2");

        var seen = new System.Collections.Generic.List<string> { await harness.StatusOfAsync(messageId) };
        serviceClock.Advance(TimeSpan.FromSeconds(1.49));
        seen.Add(await harness.StatusOfAsync(messageId));
        serviceClock.Advance(TimeSpan.FromSeconds(0.01));
        seen.Add(await harness.StatusOfAsync(messageId));
        serviceClock.Advance(TimeSpan.FromSeconds(1.5));
        seen.Add(await harness.StatusOfAsync(messageId));

        Assert.Equal(["Enqueued", "Enqueued", "Processing", "Processed"], seen);
        Assert.Equal("Processed", Assert.Single(harness.Emulator.State.Enqueued).Status);
    }

    [Fact]
    public async Task Import_with_error_markers_ends_ProcessedWithErrors_with_one_error_per_marked_line()
    {
        await using var harness = await EmulatorHarness.StartAsync(o => o.ProcessingDelay = TimeSpan.FromMilliseconds(100));
        var messageId = await harness.EnqueueAsync("CUSTGROUP,NAME\n10,ok\n20,EMULATOR-ERROR: Customer group 20 already exists.\n30,EMULATOR-ERROR: Name is too long.\n");

        Assert.Equal("ProcessedWithErrors", await harness.WaitForTerminalStatusAsync(messageId));
        var executionId = await harness.ActionValueAsync("GetExecutionIdByMessageId", $"{{\"_messageId\":\"{messageId}\"}}");
        var value = await harness.ActionValueAsync("GetExecutionErrors", JsonSerializer.Serialize(new { executionId }));

        var errors = JsonDocument.Parse(value).RootElement.EnumerateArray().ToArray();
        Assert.Equal(2, errors.Length);
        Assert.Equal("Customer group 20 already exists.", errors[0].GetProperty("ErrorMessage").GetString());
        Assert.Equal("Name is too long.", errors[1].GetProperty("ErrorMessage").GetString());
        Assert.Equal(3, errors[0].GetProperty("LineNumber").GetInt32());
        Assert.Equal("Customer groups", errors[0].GetProperty("EntityName").GetString());
        Assert.Equal(executionId, errors[1].GetProperty("ExecutionId").GetString());
        Assert.NotEqual(errors[0].GetProperty("StagingRecId").GetInt64(), errors[1].GetProperty("StagingRecId").GetInt64());
    }

    [Fact]
    public async Task Import_with_error_markers_in_a_utf16_file_is_read_too()
    {
        await using var harness = await EmulatorHarness.StartAsync(o => o.ProcessingDelay = TimeSpan.FromMilliseconds(50));
        var content = Encoding.Unicode.GetPreamble().Concat(Encoding.Unicode.GetBytes("A\r\nEMULATOR-ERROR: bad\r\n")).ToArray();
        using var response = await harness.Http.PostAsync($"api/connector/enqueue/{RecurringIntegrations.Emulator.WellKnown.ImportActivity}", new ByteArrayContent(content));
        var messageId = Guid.Parse((await response.Content.ReadAsStringAsync()).Trim('"'));

        Assert.Equal("ProcessedWithErrors", await harness.WaitForTerminalStatusAsync(messageId));
    }

    [Fact]
    public async Task Import_with_the_preprocessing_marker_ends_PreProcessingError()
    {
        await using var harness = await EmulatorHarness.StartAsync(o => o.ProcessingDelay = TimeSpan.FromMilliseconds(100));
        var messageId = await harness.EnqueueAsync("<xml>EMULATOR-PREPROCESSING-ERROR</xml>");

        Assert.Equal("PreProcessingError", await harness.WaitForTerminalStatusAsync(messageId));
    }

    [Fact]
    public async Task Execution_id_is_empty_then_the_zero_guid_before_processing_and_a_guid_after()
    {
        var serviceClock = new ManualClock(DateTimeOffset.UtcNow);
        await using var harness = await EmulatorHarness.StartAsync(o => { o.ProcessingDelay = TimeSpan.FromMilliseconds(3000); o.Time = serviceClock; });
        var messageId = await harness.EnqueueAsync("a");
        var body = $"{{\"_messageId\":\"{messageId}\"}}";

        var early = await harness.ActionValueAsync("GetExecutionIdByMessageId", body);
        serviceClock.Advance(TimeSpan.FromMilliseconds(2200));
        var later = await harness.ActionValueAsync("GetExecutionIdByMessageId", body);
        serviceClock.Advance(TimeSpan.FromMilliseconds(1200));
        var started = await harness.ActionValueAsync("GetExecutionIdByMessageId", body);

        Assert.Equal("", early);
        Assert.Equal("00000000-0000-0000-0000-000000000000", later);
        Assert.True(Guid.TryParse(started, out var executionId) && executionId != Guid.Empty);
    }

    [Fact]
    public async Task Execution_errors_value_is_a_string_holding_an_empty_json_array_when_there_are_none()
    {
        await using var harness = await EmulatorHarness.StartAsync(o => o.ProcessingDelay = TimeSpan.FromMilliseconds(50));
        var messageId = await harness.EnqueueAsync("a");
        Assert.Equal("Processed", await harness.WaitForTerminalStatusAsync(messageId));
        var executionId = await harness.ActionValueAsync("GetExecutionIdByMessageId", $"{{\"_messageId\":\"{messageId}\"}}");

        var (status, body) = await harness.ActionAsync("GetExecutionErrors", $"{{\"executionId\":\"{executionId}\"}}");

        Assert.Equal(200, status);
        Assert.Equal($"{{\"@odata.context\":\"{harness.Emulator.Environment}/data/$metadata#Edm.String\",\"value\":\"[]\"}}", body);
    }

    [Fact]
    public async Task Message_status_of_an_unknown_message_is_400_naming_it()
    {
        await using var harness = await EmulatorHarness.StartAsync();
        var unknown = Guid.NewGuid();

        var (status, body) = await harness.ActionAsync("GetMessageStatus", $"{{\"messageId\":\"{unknown}\"}}");

        Assert.Equal(400, status);
        Assert.Contains(unknown.ToString(), body);
    }

    [Theory]
    [InlineData("GetMessageStatus", "{\"MessageId\":\"6d31e09f-0249-459f-94f0-aad9c2c47b64\"}")]
    [InlineData("GetExecutionIdByMessageId", "{\"messageId\":\"6d31e09f-0249-459f-94f0-aad9c2c47b64\"}")]
    [InlineData("GetExecutionErrors", "not json")]
    public async Task An_action_without_its_exact_parameter_name_is_400(string action, string body)
    {
        await using var harness = await EmulatorHarness.StartAsync();

        var (status, _) = await harness.ActionAsync(action, body);

        Assert.Equal(400, status);
    }

    [Theory]
    [InlineData("POST", "/data/DataManagementDefinitionGroups/Microsoft.Dynamics.DataEntities.NoSuchAction")]
    [InlineData("GET", "/data/DataManagementDefinitionGroups/Microsoft.Dynamics.DataEntities.GetMessageStatus")]
    [InlineData("GET", "/api/connector/nothing/6ab0c2f1-3d1e-4c5f-9a11-0d2b7f3e1a01")]
    [InlineData("GET", "/api/other")]
    public async Task Anything_else_under_data_or_api_is_404(string method, string path)
    {
        await using var harness = await EmulatorHarness.StartAsync();

        using var response = await harness.Http.SendAsync(new HttpRequestMessage(new HttpMethod(method), path));

        Assert.Equal(System.Net.HttpStatusCode.NotFound, response.StatusCode);
    }
}

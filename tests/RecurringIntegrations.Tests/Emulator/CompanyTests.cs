using System;
using System.Linq;
using System.Net.Http;
using System.Text;
using System.Text.Json;
using System.Threading.Tasks;
using RecurringIntegrations.Emulator;
using Xunit;

namespace RecurringIntegrations.Tests.Emulator;

/// <summary>
/// The company of each message, from the enqueue's company query parameter: the emulator keeps it per message and shows it
/// where the service does (the legacy job status's ExecutionDetail) and in its own admin view; the documented status and
/// execution-error answers stay as the service sends them.
/// </summary>
public sealed class CompanyTests
{
    private static async Task<Guid> EnqueueAsync(EmulatorHarness harness, string? company, string content = "ID\nA\n")
    {
        var query = company is null ? "" : "&company=" + Uri.EscapeDataString(company);
        using var response = await harness.Http.PostAsync($"api/connector/enqueue/{WellKnown.ImportActivity}?entity=Customer%20groups{query}",
            new ByteArrayContent(Encoding.UTF8.GetBytes(content)));
        response.EnsureSuccessStatusCode();
        return JsonSerializer.Deserialize<Guid>(await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Each_message_keeps_its_own_company_in_the_admin_view_and_the_job_status_detail()
    {
        await using var harness = await EmulatorHarness.StartAsync(o => o.ProcessingDelay = TimeSpan.FromMilliseconds(50));
        var usmf = await EnqueueAsync(harness, "USMF");
        var demf = await EnqueueAsync(harness, "DEMF", "ID\nEMULATOR-ERROR: too long\n");
        var none = await EnqueueAsync(harness, null);
        Assert.Equal("Processed", await harness.WaitForTerminalStatusAsync(usmf));
        Assert.Equal("ProcessedWithErrors", await harness.WaitForTerminalStatusAsync(demf));

        using var admin = harness.CreateClient(null);
        using var messages = await admin.GetAsync("emulator/messages");
        var imports = JsonDocument.Parse(await messages.Content.ReadAsStringAsync()).RootElement.GetProperty("imports").EnumerateArray()
            .ToDictionary(m => m.GetProperty("messageId").GetGuid(), m => m.GetProperty("company").ValueKind == JsonValueKind.Null ? null : m.GetProperty("company").GetString());
        Assert.Equal(("USMF", "DEMF", (string?)null), (imports[usmf], imports[demf], imports[none]));

        using var status = await harness.Http.GetAsync($"api/connector/jobstatus/{WellKnown.ImportActivity}?jobId={demf}");
        var detail = Assert.Single(JsonDocument.Parse(await status.Content.ReadAsStringAsync()).RootElement.GetProperty("ExecutionDetail").EnumerateArray());
        Assert.Equal("DEMF", detail.GetProperty("Company").GetString());

        // GetMessageStatus answers only the status word, as the service does: the company is the caller's to carry.
        var (_, body) = await harness.ActionAsync("GetMessageStatus", $"{{\"messageId\":\"{usmf}\"}}");
        Assert.DoesNotContain("USMF", body, StringComparison.Ordinal);
    }
}

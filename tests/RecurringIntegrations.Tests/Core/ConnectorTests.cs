using System;
using System.IO;
using System.Linq;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using RecurringIntegrations.Core.Model;
using RecurringIntegrations.Emulator;
using RecurringIntegrations.Tests.Support;
using Xunit;
using RecurringIntegrations.Core.Errors;
using RecurringIntegrations.Core.Api;

namespace RecurringIntegrations.Tests.Core;

public class ConnectorTests
{
    private static readonly CancellationToken None = CancellationToken.None;

    [Fact]
    public async Task Good_file_is_enqueued_streamed_and_reaches_Processed_with_no_errors()
    {
        await using var env = await Emulated.StartAsync();
        var file = env.WriteFile("customers.xml", "<Document><CustCustomerGroupEntity/></Document>");

        var messageId = await env.Client.EnqueueAsync(WellKnown.ImportActivity, file, "Customer groups", "USMF", "customers.xml", None);

        var stored = Assert.Single(env.Emulator.State.Enqueued);
        Assert.Equal(messageId, stored.MessageId);
        Assert.Equal("Customer groups", stored.Entity);
        Assert.Equal("USMF", stored.Company);
        Assert.Equal("customers.xml", stored.ExternalIdentifier);
        Assert.Equal(File.ReadAllBytes(file), stored.Content);

        var status = await WaitForTerminalAsync(env.Client, messageId);
        Assert.Equal("Processed", status);
        var executionId = await env.Client.GetExecutionIdAsync(messageId, None);
        Assert.False(string.IsNullOrEmpty(executionId));
        Assert.Empty(await env.Client.GetExecutionErrorsAsync(executionId!, None));
    }

    [Fact]
    public async Task Bad_file_ends_ProcessedWithErrors_and_every_error_field_is_kept()
    {
        await using var env = await Emulated.StartAsync();
        var file = env.WriteFile("bad.csv", "GROUP,NAME\nEMULATOR-ERROR: Customer group 99 does not exist\nEMULATOR-ERROR: Name is too long\n");

        var messageId = await env.Client.EnqueueAsync(WellKnown.ImportActivity, file, "Customer groups", null, null, None);

        Assert.Equal("ProcessedWithErrors", await WaitForTerminalAsync(env.Client, messageId));
        var executionId = await env.Client.GetExecutionIdAsync(messageId, None);
        var errors = await env.Client.GetExecutionErrorsAsync(executionId!, None);
        Assert.Equal(2, errors.Count);
        Assert.Equal(new[] { 1, 2 }, errors.Select(e => e.Index));
        Assert.Equal("Customer group 99 does not exist", errors[0].ErrorMessage);
        Assert.All(errors, e => Assert.Equal(executionId, e.ExecutionId));
        Assert.All(errors, e => Assert.True(e.Fields.Count >= 2));
    }

    [Fact]
    public async Task Execution_id_is_null_before_the_batch_picks_the_message_up()
    {
        await using var env = await Emulated.StartAsync(o => o.ProcessingDelay = TimeSpan.FromSeconds(30));
        var file = env.WriteFile("a.xml", "<a/>");
        var messageId = await env.Client.EnqueueAsync(WellKnown.ImportActivity, file, "Customer groups", null, null, None);

        Assert.Null(await env.Client.GetExecutionIdAsync(messageId, None));
        Assert.Equal("Enqueued", await env.Client.GetMessageStatusAsync(messageId, None));
    }

    [Fact]
    public async Task Braced_activity_id_and_entity_with_spaces_reach_the_service()
    {
        await using var env = await Emulated.StartAsync();
        var file = env.WriteFile("b.xml", "<b/>");
        var braced = Guid.Parse("{" + WellKnown.ImportActivity + "}");

        await env.Client.EnqueueAsync(braced, file, "Customers V3", null, null, None);

        Assert.Contains(env.Emulator.State.Requests, r => r.PathAndQuery.Contains("entity=Customers%20V3"));
    }

    [Fact]
    public async Task Dequeue_download_ack_saves_the_file_and_stops_redelivery()
    {
        var serviceClock = new ManualClock(DateTimeOffset.UtcNow);
        await using var env = await Emulated.StartAsync(o => { o.RedeliveryTimeout = TimeSpan.FromMilliseconds(300); o.Time = serviceClock; });
        var content = Encoding.UTF8.GetBytes("<Export><Row Id=\"1\"/></Export>");
        var correlationId = env.Emulator.AddExportMessage(WellKnown.ExportActivity, "customers.xml", content);

        var message = await env.Client.DequeueAsync(WellKnown.ExportActivity, None);
        Assert.NotNull(message);
        Assert.Equal(correlationId, message!.CorrelationId);
        Assert.Null(message.LastDequeueDateTime);
        Assert.Contains("\"IsDownLoadFileExist\"", message.RawJson);

        var saved = await env.Client.DownloadAsync(message, Path.Combine(env.Folder, "out"), overwrite: false, None);
        Assert.Equal(content, File.ReadAllBytes(saved.Path));
        Assert.Equal(content.Length, saved.Length);
        Assert.Empty(Directory.GetFiles(Path.GetDirectoryName(saved.Path)!, "*.partial"));

        await env.Client.AcknowledgeAsync(WellKnown.ExportActivity, message.RawJson, None);
        Assert.Contains(correlationId, env.Emulator.State.Acknowledged);
        serviceClock.Advance(TimeSpan.FromMilliseconds(400));
        Assert.Null(await env.Client.DequeueAsync(WellKnown.ExportActivity, None));
    }

    [Fact]
    public async Task Empty_queue_returns_null()
    {
        await using var env = await Emulated.StartAsync();
        Assert.Null(await env.Client.DequeueAsync(WellKnown.ExportActivity, None));
    }

    [Fact]
    public async Task Unacknowledged_message_is_redelivered_with_its_last_dequeue_time()
    {
        var serviceClock = new ManualClock(DateTimeOffset.UtcNow);
        await using var env = await Emulated.StartAsync(o => { o.RedeliveryTimeout = TimeSpan.FromSeconds(2); o.Time = serviceClock; });
        var correlationId = env.Emulator.AddExportMessage(WellKnown.ExportActivity, "x.xml", "<x/>"u8.ToArray());

        var first = await env.Client.DequeueAsync(WellKnown.ExportActivity, None);
        Assert.Null(await env.Client.DequeueAsync(WellKnown.ExportActivity, None));
        serviceClock.Advance(TimeSpan.FromMilliseconds(2200));
        var again = await env.Client.DequeueAsync(WellKnown.ExportActivity, None);

        Assert.Equal(correlationId, first!.CorrelationId);
        Assert.Equal(correlationId, again!.CorrelationId);
        Assert.NotNull(again.LastDequeueDateTime);
        Assert.NotEqual(first.PopReceipt, again.PopReceipt);
    }

    [Fact]
    public async Task Http_download_location_is_rewritten_to_the_environment_scheme_and_port()
    {
        await using var env = await Emulated.StartAsync(o => o.HttpDownloadLocation = true);
        env.Emulator.AddExportMessage(WellKnown.ExportActivity, "y.xml", "<y/>"u8.ToArray());

        var message = await env.Client.DequeueAsync(WellKnown.ExportActivity, None);
        Assert.StartsWith("http://", message!.DownloadLocation);
        var saved = await env.Client.DownloadAsync(message, env.Folder, false, None);

        Assert.Equal("<y/>", File.ReadAllText(saved.Path));
        Assert.Contains(env.Emulator.State.Requests, r => r.PathAndQuery.StartsWith("/api/connector/download/") && r.StatusCode == 200);
    }

    [Fact]
    public async Task Download_location_on_another_host_is_refused_and_gets_no_token()
    {
        await using var env = await Emulated.StartAsync(o => o.DownloadHost = "files.example.com");
        env.Emulator.AddExportMessage(WellKnown.ExportActivity, "z.xml", "<z/>"u8.ToArray());
        var message = await env.Client.DequeueAsync(WellKnown.ExportActivity, None);
        Assert.Contains("://files.example.com:", message!.DownloadLocation);

        var error = await Assert.ThrowsAsync<D365Exception>(() => env.Client.DownloadAsync(message, env.Folder, false, None));

        Assert.Equal("DownloadLocationForeignHost", error.ErrorId);
        Assert.Equal(D365ErrorCategory.SecurityError, error.Category);
        Assert.DoesNotContain(env.Emulator.State.Requests, r => r.PathAndQuery.StartsWith("/api/connector/download"));
        Assert.Empty(Directory.GetFiles(env.Folder));
        Assert.Empty(env.Emulator.State.Acknowledged);
    }

    [Fact]
    public async Task Download_location_naming_loopback_differently_is_fetched_from_the_environment()
    {
        await using var env = await Emulated.StartAsync(o => o.DownloadHost = "localhost");
        env.Emulator.AddExportMessage(WellKnown.ExportActivity, "z.xml", "<z/>"u8.ToArray());
        var message = await env.Client.DequeueAsync(WellKnown.ExportActivity, None);

        var saved = await env.Client.DownloadAsync(message!, env.Folder, false, None);

        Assert.Equal("<z/>", File.ReadAllText(saved.Path));
        Assert.All(env.Emulator.State.Requests, r => Assert.StartsWith("127.0.0.1", r.Host));
    }

    [Fact]
    public async Task Downloads_with_the_same_name_never_overwrite_without_force()
    {
        await using var env = await Emulated.StartAsync();
        for (var i = 0; i < 3; i++) env.Emulator.AddExportMessage(WellKnown.ExportActivity, "same.xml", Encoding.UTF8.GetBytes($"<v n=\"{i}\"/>"));

        var paths = new System.Collections.Generic.List<string>();
        while (await env.Client.DequeueAsync(WellKnown.ExportActivity, None) is { } message)
            paths.Add((await env.Client.DownloadAsync(message, env.Folder, false, None)).Path);

        Assert.Equal(3, paths.Distinct().Count());
        Assert.Equal(3, paths.Select(File.ReadAllText).Distinct().Count());
    }

    [Fact]
    public async Task Unknown_activity_is_rejected_with_the_service_message()
    {
        await using var env = await Emulated.StartAsync();
        var file = env.WriteFile("c.xml", "<c/>");

        var error = await Assert.ThrowsAsync<D365Exception>(() => env.Client.EnqueueAsync(Guid.NewGuid(), file, "Customer groups", null, null, None));

        Assert.Equal("RequestRejected", error.ErrorId);
        Assert.Equal(D365ErrorCategory.InvalidArgument, error.Category);
        Assert.NotNull(error.ServiceMessage);
        Assert.Empty(env.Emulator.State.Enqueued);
    }

    [Fact]
    public async Task Verbose_lines_name_each_call_and_never_the_token()
    {
        await using var env = await Emulated.StartAsync();
        var token = env.Emulator.IssueToken(env.Emulator.Environment);
        await env.Client.DequeueAsync(WellKnown.ExportActivity, None);

        var line = Assert.Single(env.VerboseLines);
        Assert.Matches(@"^GET /api/connector/dequeue/[0-9a-f-]{36} -> 204 No Content \(\d+ ms\)$", line);
        Assert.DoesNotContain("Bearer", line);
        Assert.DoesNotContain(token.Split('.')[0] + "." + token.Split('.')[1], line);
    }

    internal static async Task<string> WaitForTerminalAsync(D365Client client, Guid messageId)
    {
        for (var i = 0; i < 100; i++)
        {
            var status = await client.GetMessageStatusAsync(messageId, None);
            if (MessageStatus.IsTerminalStatus(status)) return status;
            await Task.Delay(50);
        }
        throw new TimeoutException("The message never reached a terminal status.");
    }
}

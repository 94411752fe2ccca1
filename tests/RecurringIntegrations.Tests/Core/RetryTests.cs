using System;
using System.IO;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using RecurringIntegrations.Emulator;
using RecurringIntegrations.Tests.Support;
using Xunit;
using RecurringIntegrations.Core.Errors;
using RecurringIntegrations.Core.Connection;
using RecurringIntegrations.Core.Api;

namespace RecurringIntegrations.Tests.Core;

/// <summary>Retries end to end, against the emulator over real sockets (the policy itself: Http/RetryPolicyTests, on fake time).</summary>
public class RetryTests
{
    private static readonly CancellationToken None = CancellationToken.None;

    [Fact]
    public async Task Enqueue_whose_answer_is_lost_is_not_sent_again_and_says_so()
    {
        await using var env = await Emulated.StartAsync();
        env.Emulator.Faults.Add(new FaultRule { PathContains = "/api/connector/enqueue", Kind = FaultKind.ResetAfterBody });
        var file = env.WriteFile("once.xml", "<once/>");

        var error = await Assert.ThrowsAsync<D365Exception>(() => env.Client.EnqueueAsync(WellKnown.ImportActivity, file, "Customer groups", null, null, None));

        Assert.Equal("EnqueueOutcomeUnknown", error.ErrorId);
        Assert.Single(env.Emulator.State.Enqueued);
        Assert.True(File.Exists(file));
        Assert.Contains("message history", error.Message);
    }

    [Fact]
    public async Task Enqueue_answered_500_with_the_services_own_error_is_sent_again_and_stored_once()
    {
        await using var env = await Emulated.StartAsync();
        env.Emulator.Faults.Add(new FaultRule { PathContains = "/api/connector/enqueue", Kind = FaultKind.Status, StatusCode = 500, Times = 2 });
        var file = env.WriteFile("a.xml", "<a/>");

        var messageId = await env.Client.EnqueueAsync(WellKnown.ImportActivity, file, "Customer groups", null, null, None);

        Assert.Equal(messageId, Assert.Single(env.Emulator.State.Enqueued).MessageId);
        Assert.Equal(3, env.Emulator.State.Requests.Count(r => r.PathAndQuery.StartsWith("/api/connector/enqueue")));
    }

    [Fact]
    public async Task Enqueue_to_a_host_that_refuses_connections_is_retried_then_fails_cleanly()
    {
        var emulator = await D365Emulator.StartAsync();
        var token = emulator.IssueToken(emulator.Environment);
        var options = Emulated.Options(emulator, new RecurringIntegrations.Core.Authentication.AccessTokenCredential(Emulated.Secure(token)));
        using var session = await D365Session.ConnectAsync(options, None);
        await emulator.DisposeAsync();
        var lines = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var folder = Directory.CreateTempSubdirectory().FullName;
        var file = Path.Combine(folder, "a.xml");
        File.WriteAllText(file, "<a/>");

        var error = await Assert.ThrowsAsync<D365Exception>(() => new D365Client(session, lines.Enqueue).EnqueueAsync(WellKnown.ImportActivity, file, "E", null, null, None));

        Assert.Equal("ConnectionFailed", error.ErrorId);
        Assert.Equal(D365ErrorCategory.ConnectionError, error.Category);
        Assert.Contains(lines, l => l.Contains("trying again"));
        Assert.Matches(@"Tried 8 times over [0-9.]+ s, then gave up\.", error.Message);
        Assert.True(File.Exists(file));
    }

    [Theory]
    [InlineData(500)]
    [InlineData(502)]
    [InlineData(503)]
    public async Task Status_call_survives_transient_server_errors(int status)
    {
        await using var env = await Emulated.StartAsync();
        var file = env.WriteFile("a.xml", "<a/>");
        var messageId = await env.Client.EnqueueAsync(WellKnown.ImportActivity, file, "Customer groups", null, null, None);
        env.Emulator.Faults.Add(new FaultRule { PathContains = "GetMessageStatus", Kind = FaultKind.Status, StatusCode = status, Times = 3 });

        Assert.False(string.IsNullOrEmpty(await env.Client.GetMessageStatusAsync(messageId, None)));
        Assert.Equal(3, env.Emulator.Faults.Hits);
    }

    [Fact]
    public async Task Dropped_connections_on_dequeue_download_and_ack_are_retried()
    {
        await using var env = await Emulated.StartAsync();
        var content = new byte[200_000];
        new Random(1).NextBytes(content);
        env.Emulator.AddExportMessage(WellKnown.ExportActivity, "blob.bin", content);
        env.Emulator.Faults.Add(new FaultRule { PathContains = "/api/connector/dequeue", Kind = FaultKind.Reset });
        env.Emulator.Faults.Add(new FaultRule { PathContains = "/api/connector/download", Kind = FaultKind.Reset });
        env.Emulator.Faults.Add(new FaultRule { PathContains = "/api/connector/ack", Kind = FaultKind.Reset });

        var message = await env.Client.DequeueAsync(WellKnown.ExportActivity, None);
        var saved = await env.Client.DownloadAsync(message!, env.Folder, false, None);
        await env.Client.AcknowledgeAsync(WellKnown.ExportActivity, message!.RawJson, None);

        Assert.Equal(content, File.ReadAllBytes(saved.Path));
        Assert.Single(env.Emulator.State.Acknowledged);
        Assert.Equal(3, env.Emulator.Faults.Hits);
    }

    [Fact]
    public async Task Web_page_instead_of_json_is_named_as_such()
    {
        await using var env = await Emulated.StartAsync();
        env.Emulator.Faults.Add(new FaultRule { PathContains = "GetMessageStatus", Kind = FaultKind.HtmlPage });

        var error = await Assert.ThrowsAsync<D365Exception>(() => env.Client.GetMessageStatusAsync(Guid.NewGuid(), None));

        Assert.Equal("UnexpectedWebPage", error.ErrorId);
        Assert.Equal(D365ErrorCategory.InvalidData, error.Category);
        Assert.Contains("web page", error.Message);
    }

    [Fact]
    public async Task Malformed_json_is_reported_not_swallowed()
    {
        await using var env = await Emulated.StartAsync();
        env.Emulator.Faults.Add(new FaultRule { PathContains = "/api/connector/dequeue", Kind = FaultKind.MalformedJson });

        var error = await Assert.ThrowsAsync<D365Exception>(() => env.Client.DequeueAsync(WellKnown.ExportActivity, None));

        Assert.Equal("MalformedResponse", error.ErrorId);
    }

    [Fact]
    public async Task File_above_the_service_limit_gets_413_advice_and_stays()
    {
        await using var env = await Emulated.StartAsync(o => o.MaxEnqueueBytes = 1000);
        var file = env.WriteFile("big.xml", new string('x', 5000));

        var error = await Assert.ThrowsAsync<D365Exception>(() => env.Client.EnqueueAsync(WellKnown.ImportActivity, file, "Customer groups", null, null, None));

        Assert.Equal("PayloadTooLarge", error.ErrorId);
        Assert.Equal(D365ErrorCategory.LimitsExceeded, error.Category);
        Assert.Contains("package", error.Message);
        Assert.True(File.Exists(file));
        Assert.Empty(env.Emulator.State.Enqueued);
    }
}

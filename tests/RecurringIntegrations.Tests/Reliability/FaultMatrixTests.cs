using System;
using System.IO;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using RecurringIntegrations.Core.Model;
using RecurringIntegrations.Core.Operations;
using RecurringIntegrations.Emulator;
using RecurringIntegrations.Tests.Support;
using Xunit;

namespace RecurringIntegrations.Tests.Reliability;

/// <summary>Each fault kind on each operation: the run completes or fails cleanly, and the books balance.</summary>
public class FaultMatrixTests
{
    public static TheoryData<string, string> Cases()
    {
        var data = new TheoryData<string, string>();
        foreach (var fault in new[] { "429", "500", "503", "reset", "reset-after-body", "slow" })
            foreach (var path in new[] { "/api/connector/enqueue", "/api/connector/dequeue", "/api/connector/download", "/api/connector/ack", "GetMessageStatus", "GetExecutionIdByMessageId", "GetExecutionErrors" })
                data.Add(fault, path);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Import_and_export_keep_their_books_under_fault(string fault, string path)
    {
        await using var env = await Emulated.StartAsync(o => o.RedeliveryTimeout = TimeSpan.FromMilliseconds(500));
        env.Session.Retry.RequestTimeout = TimeSpan.FromSeconds(1);
        env.Emulator.Faults.Add(Rule(fault, path));

        var files = Ledger.MakeImportFiles(Path.Combine(env.Folder, "in"), 6);
        var imports = await Ledger.EnqueueAsync(env, files, throttleLimit: 3);
        Ledger.AssertImportBooks(env, files, imports);

        var waiter = new StatusWaiter(env.Session, env.Client) { PollInterval = TimeSpan.FromMilliseconds(50), Timeout = TimeSpan.FromSeconds(20) };
        var statuses = new Recorder<MessageStatus>();
        await waiter.RunAsync(imports.Results.Select(r => r.MessageId).ToList(), statuses.Callbacks(), CancellationToken.None);
        Assert.Equal(imports.Results.Count, statuses.Results.Count + statuses.Errors.Count);
        foreach (var message in imports.Results)
            await MessageQueries.ExecutionErrorsOfMessageAsync(env.Client, message.MessageId, CancellationToken.None);

        var queued = Ledger.QueueExports(env.Emulator, 6);
        var output = Path.Combine(env.Folder, "out");
        var saved = await Ledger.DrainUntilEmptyAsync(env, output);
        Ledger.AssertExportBooks(env, queued, saved, output);
        Assert.Equal(0, env.Emulator.State.PendingExports(WellKnown.ExportActivity));
        Assert.True(env.Emulator.Faults.Hits > 0, "the fault never fired");
    }

    [Fact]
    public async Task Token_expiring_mid_run_is_renewed_in_every_operation_and_nothing_is_lost()
    {
        await using var env = await Emulated.StartAsync(o =>
        {
            o.TokenLifetime = TimeSpan.FromSeconds(1);
            o.ProcessingDelay = TimeSpan.FromMilliseconds(300);
        });
        var files = Ledger.MakeImportFiles(Path.Combine(env.Folder, "in"), 30);

        // Enqueue (slowed to outlive several tokens), wait for statuses, read execution errors, drain with acks.
        env.Emulator.Faults.Add(new FaultRule { PathContains = "/api/connector/enqueue", Kind = FaultKind.Delay, Delay = TimeSpan.FromMilliseconds(100), Times = -1 });
        var imports = await Ledger.EnqueueAsync(env, files, 1);
        env.Emulator.Faults.Clear();
        await Task.Delay(1200);
        var statuses = new Recorder<MessageStatus>();
        await new StatusWaiter(env.Session, env.Client) { PollInterval = TimeSpan.FromMilliseconds(400), Timeout = TimeSpan.FromSeconds(30) }
            .RunAsync(imports.Results.Select(r => r.MessageId).ToList(), statuses.Callbacks(), CancellationToken.None);
        await Task.Delay(1200);
        foreach (var message in imports.Results.Take(3))
            Assert.Empty(await MessageQueries.ExecutionErrorsOfMessageAsync(env.Client, message.MessageId, CancellationToken.None));
        var queued = Ledger.QueueExports(env.Emulator, 10);
        await Task.Delay(1200);
        var output = Path.Combine(env.Folder, "out");
        var saved = await Ledger.DrainUntilEmptyAsync(env, output);

        Assert.Empty(imports.Errors);
        Assert.Empty(statuses.Errors);
        Assert.Equal(30, statuses.Results.Count(s => s.Status == "Processed"));
        Ledger.AssertImportBooks(env, files, imports);
        Ledger.AssertExportBooks(env, queued, saved, output);
        // A token can also expire in flight: its 401 is answered with a fresh token and one more try, so no operation
        // above reported an error, and every 401 was followed by a token request.
        Assert.True(env.Emulator.State.TokenRequests >= 4, $"{env.Emulator.State.TokenRequests} tokens: the token never expired mid-run");
        Assert.True(env.Emulator.State.Requests.Count(r => r.StatusCode == 401) < env.Emulator.State.TokenRequests);
    }

    private static FaultRule Rule(string fault, string path) => fault switch
    {
        "429" => new FaultRule { PathContains = path, Kind = FaultKind.Status, StatusCode = 429, RetryAfter = "0", Times = 2 },
        "500" => new FaultRule { PathContains = path, Kind = FaultKind.Status, StatusCode = 500, Times = 2 },
        "503" => new FaultRule { PathContains = path, Kind = FaultKind.Status, StatusCode = 503, RetryAfter = "0", Times = 2 },
        "reset" => new FaultRule { PathContains = path, Kind = FaultKind.Reset, Times = 2 },
        "reset-after-body" => new FaultRule { PathContains = path, Kind = FaultKind.ResetAfterBody, Times = 2 },
        "slow" => new FaultRule { PathContains = path, Kind = FaultKind.Delay, Delay = TimeSpan.FromSeconds(2), Times = 1 },
        _ => throw new ArgumentOutOfRangeException(nameof(fault)),
    };
}

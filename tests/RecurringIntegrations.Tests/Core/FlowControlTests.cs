using System;
using System.IO;
using System.Linq;
using System.Net;
using System.Net.Http;
using System.Net.Sockets;
using System.Threading;
using System.Threading.Tasks;
using RecurringIntegrations.Core.Authentication;
using RecurringIntegrations.Core.Errors;
using RecurringIntegrations.Core.Http;
using RecurringIntegrations.Core.Model;
using RecurringIntegrations.Core.Operations;
using RecurringIntegrations.Emulator;
using RecurringIntegrations.Tests.Support;
using Xunit;
using RecurringIntegrations.Core.Connection;
using RecurringIntegrations.Core.Api;

namespace RecurringIntegrations.Tests.Core;

/// <summary>
/// The session's flow control and the enqueue resend rules end to end, against the emulator over real sockets (their
/// rules to the millisecond: Http/FlowControlTests and Http/ResendRuleTests, on fake time).
/// </summary>
public class FlowControlTests
{
    private static readonly CancellationToken None = CancellationToken.None;

    [Fact]
    public async Task Parallel_uploads_against_a_throttling_service_all_arrive_once_and_are_rarely_refused()
    {
        await using var env = await Emulated.StartAsync(o => o.Throttling = new ThrottlingOptions { CallsPerSecond = 20, Window = TimeSpan.FromSeconds(1) });
        var files = Enumerable.Range(0, 60).Select(i => env.WriteFile($"f{i:00}.xml", $"<f{i}/>")).ToList();
        var results = new Recorder<EnqueuedMessage>();

        await new EnqueueBatch(env.Session, env.Client, WellKnown.ImportActivity) { ThrottleLimit = 32 }
            .RunAsync(files.Select(f => new EnqueueRequest(f) { EntityName = "E" }).ToList(), results.Callbacks(), None);

        Assert.Empty(results.Errors);
        Assert.Equal(60, env.Emulator.State.Enqueued.Count);
        var calls = env.Emulator.State.Requests.Where(r => r.PathAndQuery.StartsWith("/api")).ToList();
        var refused = calls.Count(r => r.StatusCode == 429);
        Assert.True(refused <= 0.35 * calls.Count, $"{refused} of {calls.Count} calls were answered 429");
        Assert.NotNull(env.Session.Flow.Rate);
    }

    [Fact]
    public async Task Enqueue_is_sent_again_when_no_byte_of_it_was_sent()
    {
        await using var env = await Emulated.StartAsync();
        // A session with a token of its own makes no token call: its first enqueue opens its first connection.
        var token = new AccessTokenCredential(Emulated.Secure(env.Emulator.IssueToken(env.Emulator.Environment)));
        using var session = await D365Session.ConnectAsync(Emulated.Options(env.Emulator, token), None);
        var client = new D365Client(session, null);
        env.Emulator.DropNewConnections = 1;

        var messageId = await client.EnqueueAsync(WellKnown.ImportActivity, env.WriteFile("a.xml", "<a/>"), "E", null, null, None);

        // The first try's connection closed before its handshake, so the service saw one call, and one message.
        Assert.Equal(1, env.Emulator.DroppedConnections);
        Assert.Equal(messageId, Assert.Single(env.Emulator.State.Enqueued).MessageId);
        Assert.Equal(1, env.Emulator.State.Requests.Count(r => r.PathAndQuery.StartsWith("/api/connector/enqueue")));
    }

    [Fact]
    public async Task Enqueue_is_sent_again_when_the_connection_was_refused()
    {
        await using var env = await Emulated.StartAsync();
        var closed = new TcpListener(IPAddress.Loopback, 0);
        closed.Start();
        var environment = $"https://127.0.0.1:{((IPEndPoint)closed.LocalEndpoint).Port}";
        closed.Stop();
        var token = new AccessTokenCredential(Emulated.Secure(env.Emulator.IssueToken(environment)));
        using var session = await D365Session.ConnectAsync(new ConnectionOptions(environment, token)
        {
            TrustedServerCertificate = env.Emulator.ServerCertificate,
            Retry = Emulated.FastRetry(),
        }, None);

        var error = await Assert.ThrowsAsync<D365Exception>(() =>
            new D365Client(session, null).EnqueueAsync(WellKnown.ImportActivity, env.WriteFile("a.xml", "<a/>"), "E", null, null, None));

        // Nothing listens there: no try can have created a message, so every try allowed was made.
        Assert.Equal("ConnectionFailed", error.ErrorId);
        Assert.Matches(@"Tried 8 times over [0-9.]+ s, then gave up\.", error.Message);
    }
}

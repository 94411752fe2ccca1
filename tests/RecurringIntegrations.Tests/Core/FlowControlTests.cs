using System;
using System.IO;
using System.Linq;
using System.Net;
using System.Net.Http;
using System.Net.Sockets;
using System.Threading;
using System.Threading.Tasks;
using RecurringIntegrations.Core;
using RecurringIntegrations.Core.Authentication;
using RecurringIntegrations.Core.Errors;
using RecurringIntegrations.Core.Http;
using RecurringIntegrations.Core.Model;
using RecurringIntegrations.Core.Operations;
using RecurringIntegrations.Emulator;
using RecurringIntegrations.Tests.Support;
using Xunit;

namespace RecurringIntegrations.Tests.Core;

/// <summary>The session's flow control and the enqueue resend rules, against the emulator over real sockets.</summary>
public class FlowControlTests
{
    private static readonly CancellationToken None = CancellationToken.None;

    [Fact]
    public async Task Retry_After_pauses_every_call_of_the_session_not_only_the_one_that_got_it()
    {
        await using var env = await Emulated.StartAsync();
        env.Emulator.Faults.Add(new FaultRule { PathContains = "/api/connector/dequeue", Kind = FaultKind.Status, StatusCode = 429, RetryAfter = "2" });
        var first = env.Client.DequeueAsync(WellKnown.ExportActivity, None);
        while (!env.Emulator.State.Requests.Any(r => r.StatusCode == 429)) await Task.Delay(10);
        var throttledAt = env.Emulator.State.Requests.Single(r => r.StatusCode == 429).At;

        // Other workers of the same session, on this and other calls, start while the session is paused.
        var message = env.WriteFile("a.xml", "<a/>");
        var others = Enumerable.Range(0, 6).Select(i => Task.Run(() => i % 2 == 0
            ? env.Client.DequeueAsync(WellKnown.ExportActivity, None)
            : (Task)env.Client.EnqueueAsync(WellKnown.ImportActivity, message, "E", null, null, None))).ToList();
        await Task.WhenAll(others.Append(first));

        var api = env.Emulator.State.Requests.Where(r => r.PathAndQuery.StartsWith("/api") || r.PathAndQuery.StartsWith("/data")).ToList();
        Assert.Equal(8, api.Count);
        Assert.Single(api, r => r.StatusCode == 429);
        Assert.All(api.Where(r => r.StatusCode != 429), r => Assert.True(r.At - throttledAt >= TimeSpan.FromSeconds(1.9),
            $"{r.Method} {r.PathAndQuery} reached the service {(r.At - throttledAt).TotalSeconds:0.00} s after the 429 said to wait 2 s"));
        Assert.Contains(env.VerboseLines, l => l.Contains("was throttled (429, Retry-After 2.0 s)") && l.Contains("calls/s"));
    }

    [Fact]
    public async Task Throttling_lowers_the_sessions_pace_and_the_pace_grows_back()
    {
        await using var env = await Emulated.StartAsync();
        Assert.Null(env.Session.Flow.Rate);
        for (var i = 0; i < 20; i++) await env.Client.DequeueAsync(WellKnown.ExportActivity, None);
        env.Emulator.Faults.Add(new FaultRule { PathContains = "/api/connector/dequeue", Kind = FaultKind.Status, StatusCode = 429, RetryAfter = "1" });
        await env.Client.DequeueAsync(WellKnown.ExportActivity, None);

        // 20 calls got through in well under a second, then the service asked for a 1 s pause: the pace is what got through
        // over that time plus the wait (Retry-After's whole second counted as the half second it stands for on average).
        var dropped = env.Session.Flow.Rate;
        Assert.NotNull(dropped);
        Assert.InRange(dropped!.Value, 0.5, 40);
        var before = env.Emulator.State.Requests.Count;
        var paced = System.Diagnostics.Stopwatch.StartNew();
        for (var i = 0; i < 10; i++) await env.Client.DequeueAsync(WellKnown.ExportActivity, None);
        Assert.True(paced.Elapsed >= TimeSpan.FromSeconds(9 / dropped.Value * 0.5),
            $"10 calls at a pace of {dropped:0.0} calls/s took only {paced.Elapsed.TotalSeconds:0.00} s");

        await Task.Delay(TimeSpan.FromSeconds(4));
        Assert.True(env.Session.Flow.Rate > dropped * 1.05, $"the pace stayed at {env.Session.Flow.Rate:0.00} calls/s after {dropped:0.00}");
        Assert.Equal(before + 10, env.Emulator.State.Requests.Count);
    }

    [Fact]
    public async Task A_longer_wait_named_for_calls_already_on_their_way_does_not_lower_the_pace()
    {
        var flow = new FlowControl(TimeSpan.FromMinutes(1));
        HttpMessage Call() => new("Enqueue", () => new HttpRequestMessage(HttpMethod.Post, "https://env.example/api/connector/enqueue/x"),
            ResendRule.Always, TimeSpan.FromSeconds(10), false, (_, _) => Task.CompletedTask, null, None)
        {
            Request = new HttpRequestMessage(HttpMethod.Post, "https://env.example/api/connector/enqueue/x"),
        };
        var calls = Enumerable.Range(0, 12).Select(_ => Call()).ToList();
        foreach (var call in calls.Take(10)) { await flow.EnterAsync(call); call.Response = new HttpResponseMessage(HttpStatusCode.OK); flow.Leave(call, null); }
        var first = calls[10];
        var echo = calls[11];
        await flow.EnterAsync(first);
        await flow.EnterAsync(echo);

        // Both were sent before the service throttled: the first answer names 4 s (it had been called while told to wait),
        // the second the 2 s the service's own window asks for. The pace is what got through over the shorter one.
        first.Response = new HttpResponseMessage(HttpStatusCode.TooManyRequests);
        flow.Leave(first, TimeSpan.FromSeconds(4));
        var afterFirst = flow.Rate!.Value;
        echo.Response = new HttpResponseMessage(HttpStatusCode.TooManyRequests);
        flow.Leave(echo, TimeSpan.FromSeconds(2));

        Assert.True(flow.Rate > afterFirst * 1.5, $"the pace stayed {flow.Rate:0.00} calls/s after {afterFirst:0.00}");
    }

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

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task More_calls_go_at_once_only_while_they_are_answered_as_fast_as_fewer_were(bool queuedAtTheService)
    {
        await using var env = await Emulated.StartAsync();
        // The first 8 answers set the measure (100 ms); then either the same, or 400 ms: the calls wait at the service.
        env.Emulator.Faults.Add(new FaultRule { PathContains = "/api/connector/enqueue", Kind = FaultKind.Delay, Delay = TimeSpan.FromMilliseconds(100), Times = 8 });
        env.Emulator.Faults.Add(new FaultRule { PathContains = "/api/connector/enqueue", Kind = FaultKind.Delay, Times = -1,
            Delay = TimeSpan.FromMilliseconds(queuedAtTheService ? 400 : 100) });
        var files = Enumerable.Range(0, 48).Select(i => env.WriteFile($"f{i:00}.xml", $"<f{i}/>")).ToList();
        var results = new Recorder<EnqueuedMessage>();

        await new EnqueueBatch(env.Session, env.Client, WellKnown.ImportActivity) { ThrottleLimit = 32 }
            .RunAsync(files.Select(f => new EnqueueRequest(f) { EntityName = "E" }).ToList(), results.Callbacks(), None);

        Assert.Empty(results.Errors);
        Assert.Equal(48, env.Emulator.State.Enqueued.Count);
        if (queuedAtTheService)
            Assert.Equal(8, env.Session.Flow.ConcurrencyLimit);
        else
            Assert.True(env.Session.Flow.ConcurrencyLimit >= 24, $"the cap stayed at {env.Session.Flow.ConcurrencyLimit} although every call took 100 ms");
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
        Assert.Matches(@"Tried 6 times over [0-9.]+ s, then gave up\.", error.Message);
    }

    [Theory]
    [InlineData("429", true)]
    [InlineData("503", true)]
    [InlineData("500", true)]
    [InlineData("502", false)]
    [InlineData("504", false)]
    [InlineData("500-from-a-gateway", false)]
    [InlineData("502-from-a-gateway", false)]
    [InlineData("reset-after-body", false)]
    [InlineData("no-answer-in-time", false)]
    public async Task Enqueue_is_sent_again_only_when_the_service_cannot_have_created_a_message(string fault, bool resent)
    {
        await using var env = await Emulated.StartAsync();
        if (fault == "no-answer-in-time") env.Session.Retry.RequestTimeout = TimeSpan.FromMilliseconds(700);
        env.Emulator.Faults.Add(fault switch
        {
            "reset-after-body" => new FaultRule { PathContains = "/api/connector/enqueue", Kind = FaultKind.ResetAfterBody },
            "no-answer-in-time" => new FaultRule { PathContains = "/api/connector/enqueue", Kind = FaultKind.Delay, Delay = TimeSpan.FromSeconds(2) },
            _ when fault.EndsWith("-from-a-gateway") => new FaultRule { PathContains = "/api/connector/enqueue", Kind = FaultKind.GatewayPage, StatusCode = int.Parse(fault[..3]) },
            _ => new FaultRule { PathContains = "/api/connector/enqueue", Kind = FaultKind.Status, StatusCode = int.Parse(fault), RetryAfter = fault == "500" ? null : "0" },
        });
        var file = env.WriteFile("a.xml", "<a/>");

        if (resent)
        {
            var messageId = await env.Client.EnqueueAsync(WellKnown.ImportActivity, file, "E", null, null, None);
            Assert.Equal(messageId, Assert.Single(env.Emulator.State.Enqueued).MessageId);
            Assert.Equal(2, env.Emulator.State.Requests.Count(r => r.PathAndQuery.StartsWith("/api/connector/enqueue")));
            return;
        }
        var error = await Assert.ThrowsAsync<D365Exception>(() => env.Client.EnqueueAsync(WellKnown.ImportActivity, file, "E", null, null, None));
        await Task.Delay(TimeSpan.FromSeconds(2.5)); // the emulator records a delayed call when it ends
        Assert.Equal("EnqueueOutcomeUnknown", error.ErrorId);
        Assert.Contains("not again, to avoid a duplicate message", error.Message);
        Assert.Equal(1, env.Emulator.State.Requests.Count(r => r.PathAndQuery.StartsWith("/api/connector/enqueue")));
        Assert.True(File.Exists(file));
    }

    [Fact]
    public async Task Errors_say_what_was_done()
    {
        await using var env = await Emulated.StartAsync();
        env.Emulator.Faults.Add(new FaultRule { PathContains = "GetMessageStatus", Kind = FaultKind.Status, StatusCode = 500, Times = -1 });

        var error = await Assert.ThrowsAsync<D365Exception>(() => env.Client.GetMessageStatusAsync(Guid.NewGuid(), None));

        Assert.Equal("ServiceError", error.ErrorId);
        Assert.Matches(@"Tried 6 times over [0-9.]+ s, then gave up\.", error.Message);
        Assert.DoesNotContain("where that was safe", error.Message);
    }
}

using System;
using System.Collections.Generic;
using System.Linq;
using System.Net;
using System.Net.Http;
using System.Threading;
using System.Threading.Tasks;
using RecurringIntegrations.Core.Errors;
using RecurringIntegrations.Core.Http;
using RecurringIntegrations.Tests.Support;
using Xunit;
using static RecurringIntegrations.Tests.Support.MockTransport;

namespace RecurringIntegrations.Tests.Http;

/// <summary>
/// The session's flow control on fake time, to the millisecond: the pause a 429 names, the pace after it (what the service
/// let through, then TCP CUBIC's curve), the cap on calls in flight, and the throttling budget.
/// </summary>
public sealed class FlowControlTests
{
    private static readonly Uri Environment = new(Mocked.Environment);
    private readonly ManualClock _time = new();

    private FlowControl Flow(double budgetSeconds = 60) => new(TimeSpan.FromSeconds(budgetSeconds), _time);

    private HttpMessage<bool> Call(string operation = "Dequeue")
    {
        var message = new HttpMessage<bool>(operation, () => new HttpRequestMessage(HttpMethod.Get, Environment), (_, _) => Task.FromResult(true),
            new EnvironmentClassifier(Environment), TimeSpan.FromSeconds(100), _time, null);
        message.Start(CancellationToken.None);
        return message;
    }

    private void Advance(double milliseconds) => Mocked.Inline(() => _time.Advance(TimeSpan.FromMilliseconds(milliseconds)));

    private static void Answer(FlowControl flow, HttpMessage message, TimeSpan admittedAt, int status, string? retryAfter = null)
    {
        using var attempt = new TryContext(message);
        var response = new HttpResponseMessage((HttpStatusCode)status);
        if (retryAfter != null) response.Headers.TryAddWithoutValidation("Retry-After", retryAfter);
        attempt.Answered(response);
        flow.Leave(attempt, admittedAt);
    }

    /// <summary>Calls one after another, each answered 200 after <paramref name="milliseconds"/>.</summary>
    private void Succeed(FlowControl flow, int calls, double milliseconds)
    {
        for (var i = 0; i < calls; i++)
        {
            var call = Call();
            var admitted = Mocked.Done(flow.EnterAsync(call));
            Advance(milliseconds);
            Answer(flow, call, admitted, 200);
        }
    }

    /// <summary>
    /// 10 calls got through in 0.3 s of calling (30 ms each), then the service asked for 2 s: at 0.3 s, the session is paused
    /// until 2.3 s, and the rate it allowed is 10 / (0.3 + 2 - 0.5) = 5.56 calls/s (Retry-After's whole seconds counted as
    /// the half second less they stand for on average).
    /// </summary>
    private FlowControl ThrottledAfterTenCalls()
    {
        var flow = Flow();
        Succeed(flow, 10, 30);
        var throttled = Call();
        Answer(flow, throttled, Mocked.Done(flow.EnterAsync(throttled)), 429, "2");
        return flow;
    }

    [Fact]
    public void A_429_pauses_every_call_until_the_time_it_names_then_paces_them_at_what_the_service_let_through()
    {
        var flow = ThrottledAfterTenCalls();

        var next = Enumerable.Range(0, 3).Select(_ => flow.EnterAsync(Call())).ToList();
        Advance(1999);
        Assert.All(next, t => Assert.False(t.IsCompleted));
        // At most 70% of the calls in flight when it came (one), and never fewer than 2.
        Assert.Equal(2, flow.ConcurrencyLimit);
        Advance(1);
        // The pace restarts 10% below that rate, from an empty bucket: the first call goes 1 / 5.0 s after the pause.
        Assert.Equal(5.0, flow.Rate!.Value, 9);
        Advance(199);
        Assert.All(next, t => Assert.False(t.IsCompleted));
        Advance(1);
        Assert.Equal(TimeSpan.FromMilliseconds(2500), Mocked.Done(Assert.Single(next, t => t.IsCompleted)));
    }

    [Fact]
    public void The_pace_comes_back_to_the_rate_the_service_allowed_and_then_grows_as_a_cubic()
    {
        var flow = ThrottledAfterTenCalls();
        var allowed = 10 / 1.8;

        Advance(2000);
        Assert.Equal(0.9 * allowed, flow.Rate!.Value, 9);
        // Back to the rate in 10 s times the cube root of 0.1 (4.64 s), then twice it 10 s later.
        Advance(10_000 * Math.Pow(0.1, 1.0 / 3));
        Assert.Equal(allowed, flow.Rate!.Value, 6);
        Advance(10_000);
        Assert.Equal(2 * allowed, flow.Rate!.Value, 3);
    }

    [Fact]
    public void A_longer_wait_named_for_calls_already_on_their_way_does_not_lower_the_pace()
    {
        var flow = Flow();
        Succeed(flow, 10, 30);
        var first = Call();
        var echo = Call();
        var firstAdmitted = Mocked.Done(flow.EnterAsync(first));
        var echoAdmitted = Mocked.Done(flow.EnterAsync(echo));

        // Both were sent before the service throttled: the first answer names 4 s (it had been called while told to wait),
        // the second the 2 s the service's own window asks for. The pace is what got through over the shorter one.
        Answer(flow, first, firstAdmitted, 429, "4");
        Assert.Equal(10 / 3.8 * 0.9, flow.Rate!.Value, 9);
        Answer(flow, echo, echoAdmitted, 429, "2");
        Assert.Equal(10 / 1.8 * 0.9, flow.Rate!.Value, 9);
    }

    [Fact]
    public async Task Calls_in_flight_are_capped_at_8_and_a_freed_slot_lets_the_next_one_go()
    {
        var flow = Flow();
        var calls = Enumerable.Range(0, 9).Select(_ => Call()).ToList();
        var entered = calls.Select(flow.EnterAsync).ToList();

        Assert.All(entered.Take(8), t => Assert.True(t.IsCompletedSuccessfully));
        Assert.False(entered[8].IsCompleted);
        Advance(100);
        Answer(flow, calls[0], Mocked.Done(entered[0]), 200);
        // A freed slot wakes the waiting call on the thread pool: awaited here, not slept for.
        Assert.Equal(TimeSpan.FromMilliseconds(100), await entered[8]);
    }

    [Theory]
    [InlineData(100, 9)]
    [InlineData(151, 8)]
    public void The_cap_grows_only_while_calls_are_answered_as_fast_as_the_quickest(double later, int cap)
    {
        var flow = Flow();
        // The first 16 answers set the measure (100 ms); the 17th, as fast or over 1.5 times slower, decides.
        Succeed(flow, 16, 100);
        Assert.Equal(8, flow.ConcurrencyLimit);
        Succeed(flow, 1, later);
        Assert.Equal(cap, flow.ConcurrencyLimit);
    }

    [Fact]
    public async Task A_pause_longer_than_what_is_left_of_the_budget_fails_at_once()
    {
        var flow = Flow(budgetSeconds: 3);
        var throttled = Call();
        Answer(flow, throttled, Mocked.Done(flow.EnterAsync(throttled)), 429, "5");

        var entering = flow.EnterAsync(Call());
        Assert.True(entering.IsFaulted);
        var error = await Assert.ThrowsAsync<D365Exception>(() => entering);

        Assert.Equal("Throttled", error.ErrorId);
        Assert.Contains("the session is paused 5.0 s more, beyond what is left of it", error.Message);
    }

    [Fact]
    public async Task A_call_that_finds_no_free_slot_within_the_budget_fails_when_the_budget_is_spent()
    {
        var flow = Flow(budgetSeconds: 3);
        var slots = Enumerable.Range(0, 8).Select(_ => flow.EnterAsync(Call())).ToList();
        var waiting = flow.EnterAsync(Call());

        Advance(2999);
        Assert.False(waiting.IsCompleted);
        Advance(1);

        var error = await Assert.ThrowsAsync<D365Exception>(() => waiting);
        Assert.Contains("no call slot of the session came free within it", error.Message);
    }

    [Fact]
    public void A_Retry_After_through_the_session_holds_back_every_call_of_it()
    {
        using var mocked = Mocked.Connect(Status(429, "", "2"), Status(204));

        var first = mocked.Client.DequeueAsync(Guid.NewGuid(), CancellationToken.None);
        mocked.Advance(500);
        var others = new List<Task> { mocked.Client.DequeueAsync(Guid.NewGuid(), CancellationToken.None), mocked.Client.DequeueAsync(Guid.NewGuid(), CancellationToken.None) };
        mocked.Advance(1499);
        Assert.Single(mocked.Transport.Requests);
        mocked.Step(20_000, Task.WhenAll(others.Append(first)));

        Assert.Equal(4, mocked.Transport.Requests.Count);
        Assert.All(mocked.Transport.SentAt.Skip(1), at => Assert.True(at >= 2000, $"a call went at {at} ms, within the pause"));
        Assert.Contains(mocked.VerboseLines, l => l.StartsWith("Dequeue was throttled (429, Retry-After 2.0 s): every call of the session waits 2.0 s;"));
    }
}

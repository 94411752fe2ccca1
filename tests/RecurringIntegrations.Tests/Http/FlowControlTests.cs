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

    /// <summary>Lets <paramref name="count"/> calls in at once (a run's first round); when each went.</summary>
    private (List<HttpMessage<bool>> Calls, List<TimeSpan> Admitted) EnterTogether(FlowControl flow, int count)
    {
        var calls = Enumerable.Range(0, count).Select(_ => Call()).ToList();
        return (calls, calls.Select(call => Mocked.Done(flow.EnterAsync(call))).ToList());
    }

    /// <summary>Answers 200 now to the calls of <paramref name="round"/> from <paramref name="from"/> up to <paramref name="to"/>.</summary>
    private static void Succeed(FlowControl flow, (List<HttpMessage<bool>> Calls, List<TimeSpan> Admitted) round, int from, int to)
    {
        for (var i = from; i < to; i++) Answer(flow, round.Calls[i], round.Admitted[i], 200);
    }

    /// <summary>Lets <paramref name="calls"/> in one after another, 1 ms apart; when each went.</summary>
    private List<TimeSpan> EnterOneMsApart(FlowControl flow, IEnumerable<HttpMessage> calls)
    {
        var admitted = new List<TimeSpan>();
        foreach (var call in calls)
        {
            admitted.Add(Mocked.Done(flow.EnterAsync(call)));
            Advance(1);
        }
        return admitted;
    }

    /// <summary>
    /// 10 calls got through in 0.3 s of calling (30 ms each), then the service asked for 2 s: at 0.3 s, the session is paused
    /// until 2.3 s, and the rate it allowed, if it limits the rate, is 10 / (0.3 + 2 - 0.5) = 5.56 calls/s (Retry-After's whole
    /// seconds counted as the half second less they stand for on average).
    /// </summary>
    private FlowControl ThrottledAfterTenCalls()
    {
        var flow = Flow();
        Succeed(flow, 10, 30);
        var throttled = Call();
        Answer(flow, throttled, Mocked.Done(flow.EnterAsync(throttled)), 429, "2");
        return flow;
    }

    /// <summary>
    /// <see cref="ThrottledAfterTenCalls"/>, then the first call after the pause (at 2.3 s) is refused too, with
    /// Retry-After 1: a rate limit. The session is paused until 3.3 s and paced from then on.
    /// </summary>
    private FlowControl RateLimitedAfterTenCalls()
    {
        var flow = ThrottledAfterTenCalls();
        Advance(2000);
        var probe = Call();
        Answer(flow, probe, Mocked.Done(flow.EnterAsync(probe)), 429, "1");
        return flow;
    }

    [Fact]
    public void A_first_429_pauses_every_call_until_the_time_it_names_and_sets_no_pace_yet()
    {
        var flow = ThrottledAfterTenCalls();

        var next = Enumerable.Range(0, 3).Select(_ => flow.EnterAsync(Call())).ToList();
        Advance(1999);
        Assert.All(next, t => Assert.False(t.IsCompleted));
        Advance(1);
        // A rate limit or a busy environment: the calls after the pause go as before it, and their answers tell which.
        Assert.All(next, t => Assert.Equal(TimeSpan.FromMilliseconds(2300), Mocked.Done(t)));
        Assert.Null(flow.Rate);
        Assert.False(flow.BusyEnvironment);
        // Nor is the cap cut: it is still the service's 52.
        Assert.Equal(52, flow.ConcurrencyLimit);
    }

    [Fact]
    public void A_call_refused_right_after_the_pause_marks_a_rate_limit_and_the_session_is_paced_at_what_the_first_throttling_let_through()
    {
        var flow = RateLimitedAfterTenCalls();

        var next = Enumerable.Range(0, 3).Select(_ => flow.EnterAsync(Call())).ToList();
        Advance(999);
        Assert.All(next, t => Assert.False(t.IsCompleted));
        // At most 70% of the calls in flight when the first 429 came (one), and never fewer than 2.
        Assert.Equal(2, flow.ConcurrencyLimit);
        Advance(1);
        // The pace restarts 10% below 5.56 calls/s (not the short spell after the pause), from an empty bucket: the first
        // call goes 1 / 5.0 s after the pause.
        Assert.Equal(5.0, flow.Rate!.Value, 9);
        Assert.False(flow.BusyEnvironment);
        Advance(199);
        Assert.All(next, t => Assert.False(t.IsCompleted));
        Advance(1);
        Assert.Equal(TimeSpan.FromMilliseconds(3500), Mocked.Done(Assert.Single(next, t => t.IsCompleted)));
    }

    [Fact]
    public async Task Calls_sent_after_the_refused_one_that_go_through_mark_a_busy_environment_and_end_the_pause_at_once()
    {
        var flow = Flow();
        Succeed(flow, 4, 10);
        // Four calls in flight; the first is refused (Retry-After 1), the three sent after it go through.
        var calls = Enumerable.Range(0, 4).Select(_ => Call()).ToList();
        var admitted = EnterOneMsApart(flow, calls);
        Answer(flow, calls[0], admitted[0], 429, "1");
        var held = flow.EnterAsync(Call());
        Assert.False(held.IsCompleted);
        Answer(flow, calls[1], admitted[1], 200);
        Assert.False(flow.BusyEnvironment);
        Answer(flow, calls[2], admitted[2], 200);

        // Two of them: a rate limit would have refused every call after the first; the pause ends now, for all but the refused call.
        Assert.True(flow.BusyEnvironment);
        // The answer wakes the held call on the thread pool: awaited here, not slept for.
        Assert.Equal(TimeSpan.FromMilliseconds(44), await held);
        var again = flow.EnterAsync(calls[0]);
        Advance(999);
        Assert.False(again.IsCompleted);
        Advance(1);
        Assert.Equal(TimeSpan.FromMilliseconds(1044), Mocked.Done(again));
        Assert.Equal(16, flow.ConcurrencyLimit);
    }

    [Fact]
    public void Calls_sent_after_the_refused_one_that_went_through_before_its_answer_came_mark_a_busy_environment_with_no_pause()
    {
        var flow = Flow();
        // Four calls in flight; the three sent after the first go through before the first's answer (429) comes.
        var calls = Enumerable.Range(0, 4).Select(_ => Call()).ToList();
        var admitted = EnterOneMsApart(flow, calls);
        Answer(flow, calls[1], admitted[1], 200);
        Answer(flow, calls[2], admitted[2], 200);
        Advance(20);
        Answer(flow, calls[0], admitted[0], 429, "1");

        // Busy at once: no call of the session is paused, and only the refused one waits its Retry-After.
        Assert.True(flow.BusyEnvironment);
        Assert.Equal(TimeSpan.FromMilliseconds(24), Mocked.Done(flow.EnterAsync(Call())));
        var again = flow.EnterAsync(calls[0]);
        Advance(999);
        Assert.False(again.IsCompleted);
        Advance(1);
        Assert.Equal(TimeSpan.FromMilliseconds(1024), Mocked.Done(again));
        Assert.Null(flow.Rate);
    }

    [Fact]
    public void One_call_sent_after_the_refused_one_that_went_through_is_not_enough_the_session_pauses()
    {
        var flow = Flow();
        var calls = Enumerable.Range(0, 3).Select(_ => Call()).ToList();
        var admitted = EnterOneMsApart(flow, calls);
        // The one sent before it does not count, the one after alone is not enough: a rate limit may let one through.
        Answer(flow, calls[0], admitted[0], 200);
        Answer(flow, calls[2], admitted[2], 200);
        Answer(flow, calls[1], admitted[1], 429, "1");

        Assert.False(flow.BusyEnvironment);
        Assert.False(flow.EnterAsync(Call()).IsCompleted);
    }

    [Fact]
    public void Calls_after_the_pause_that_go_through_mark_a_busy_environment_and_the_session_is_not_paced()
    {
        var flow = ThrottledAfterTenCalls();
        Advance(2000);

        Succeed(flow, 1, 30);
        Assert.False(flow.BusyEnvironment);
        Succeed(flow, 1, 30);

        Assert.True(flow.BusyEnvironment);
        // Not paced: the session was not before the 429, and a rate measured over the 10 calls before it would be a crawl.
        Assert.Null(flow.Rate);
        var next = Enumerable.Range(0, 8).Select(_ => flow.EnterAsync(Call())).ToList();
        Assert.All(next, t => Assert.True(t.IsCompletedSuccessfully));
    }

    [Fact]
    public void An_unpaced_busy_session_refused_six_times_in_a_row_is_paced_from_what_the_first_throttling_measured()
    {
        var flow = ThrottledAfterTenCalls();
        Advance(2000);
        Succeed(flow, 2, 30);
        Assert.True(flow.BusyEnvironment);
        Assert.Null(flow.Rate);

        for (var i = 0; i < 6; i++)
        {
            var call = Call();
            Answer(flow, call, Admit(flow, call), 429, "2");
        }

        // A rate limit after all (a window that let a burst through after the pause): paced, and not from the few calls
        // since, but from the 5.56 calls/s the first throttling measured, at most 30% lower.
        Assert.False(flow.BusyEnvironment);
        var waiting = flow.EnterAsync(Call());
        Advance(1999);
        Assert.False(waiting.IsCompleted);
        Advance(1);
        Assert.True(flow.Rate!.Value >= 0.9 * 0.7 * 10 / 1.8 - 1e-9, $"pace {flow.Rate}");
    }

    [Fact]
    public void Calls_sent_after_the_refused_one_that_are_refused_too_mark_a_rate_limit_during_the_pause()
    {
        var flow = Flow();
        Succeed(flow, 4, 10);
        var calls = Enumerable.Range(0, 3).Select(_ => Call()).ToList();
        var admitted = EnterOneMsApart(flow, calls);
        Answer(flow, calls[0], admitted[0], 429, "1");
        Answer(flow, calls[1], admitted[1], 429, "2");
        Assert.Null(flow.Rate);
        Answer(flow, calls[2], admitted[2], 429, "2");

        // Paced from the end of the longest wait named (2 s after 43 ms), at what got through: 4 / (0.043 + 1 - 0.5).
        Assert.False(flow.BusyEnvironment);
        Assert.Equal(0.9 * 4 / 0.543, flow.Rate!.Value, 6);
        var waiting = flow.EnterAsync(Call());
        Advance(1999);
        Assert.False(waiting.IsCompleted);
    }

    [Fact]
    public void The_pace_comes_back_to_the_rate_the_service_allowed_and_then_grows_as_a_cubic()
    {
        var flow = RateLimitedAfterTenCalls();
        var allowed = 10 / 1.8;

        Advance(1000);
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
        Answer(flow, echo, echoAdmitted, 429, "2");
        // The session waits the longer one. The call sent after the first was refused too, and none went through: a rate
        // limit, paced from the end of the pause (10% below the rate, from an empty bucket: the next call 1 / 5.0 s later).
        Advance(4000);
        var next = flow.EnterAsync(Call());
        Assert.False(next.IsCompleted);
        Assert.Equal(10 / 1.8 * 0.9, flow.Rate!.Value, 9);
        Advance(200);
        Assert.Equal(TimeSpan.FromMilliseconds(4500), Mocked.Done(next));
    }

    [Fact]
    public void A_pause_with_calls_in_flight_and_none_sent_after_the_refused_one_going_through_ends_in_a_pace()
    {
        var flow = Flow();
        Succeed(flow, 10, 30);
        // Two calls in flight; the later one is refused (Retry-After 2), the earlier one goes through: it says nothing,
        // a rate limit lets the calls before its limit through.
        var earlier = Call();
        var refused = Call();
        var earlierAdmitted = Mocked.Done(flow.EnterAsync(earlier));
        Advance(1);
        var refusedAdmitted = Mocked.Done(flow.EnterAsync(refused));
        Answer(flow, refused, refusedAdmitted, 429, "2");
        Answer(flow, earlier, earlierAdmitted, 200);
        Assert.False(flow.BusyEnvironment);
        Assert.Null(flow.Rate);

        // When the pause ends the session is paced: a busy environment would have let the calls sent after the refused
        // one through, and a rate limit's window that emptied during the pause would take a burst and refuse it whole.
        Advance(2000);
        var next = flow.EnterAsync(Call());
        Assert.NotNull(flow.Rate);
        Assert.False(flow.BusyEnvironment);
        Assert.False(next.IsCompleted);
    }

    [Fact]
    public void A_refused_call_is_not_alone_when_another_was_answered_while_it_was_on_its_way()
    {
        var flow = Flow();
        Succeed(flow, 10, 30);
        var earlier = Call();
        var refused = Call();
        var earlierAdmitted = Mocked.Done(flow.EnterAsync(earlier));
        Advance(1);
        var refusedAdmitted = Mocked.Done(flow.EnterAsync(refused));
        Advance(1);
        // The earlier one is answered first: when the refusal comes nothing is in flight, yet calls went two at a time.
        Answer(flow, earlier, earlierAdmitted, 200);
        Advance(1);
        Answer(flow, refused, refusedAdmitted, 429, "2");

        // Not one call at a time, so the first calls after the pause do not decide: the pause ends in a pace.
        Advance(2000);
        var next = flow.EnterAsync(Call());
        Assert.NotNull(flow.Rate);
        Assert.False(next.IsCompleted);
    }

    [Fact]
    public async Task Calls_in_flight_are_capped_at_16_at_first_and_a_freed_slot_lets_the_next_one_go()
    {
        var flow = Flow();
        var calls = Enumerable.Range(0, 17).Select(_ => Call()).ToList();
        var entered = calls.Select(flow.EnterAsync).ToList();

        Assert.All(entered.Take(16), t => Assert.True(t.IsCompletedSuccessfully));
        Assert.False(entered[16].IsCompleted);
        Advance(100);
        Answer(flow, calls[0], Mocked.Done(entered[0]), 200);
        // A freed slot wakes the waiting call on the thread pool: awaited here, not slept for.
        Assert.Equal(TimeSpan.FromMilliseconds(100), await entered[16]);
    }

    [Theory]
    [InlineData(20, 52)]
    [InlineData(19, 16)]
    public void A_service_whose_first_8_answers_took_20_ms_or_more_gets_its_52_calls(double milliseconds, int cap)
    {
        var flow = Flow();
        Succeed(flow, 7, 100);
        Assert.Equal(16, flow.ConcurrencyLimit);
        // The quickest of the first 8 decides: a distant service (the network and the service's own work) or this machine.
        Succeed(flow, 1, milliseconds);
        Assert.Equal(cap, flow.ConcurrencyLimit);
    }

    [Fact]
    public async Task The_jump_to_52_is_spread_over_one_quickest_answer_and_a_freed_slot_is_taken_at_once()
    {
        var flow = Flow();
        // 8 answers of 100 ms: a distant service; its 36 new slots open one every 100 / 36 = 2.78 ms from now (800 ms).
        Succeed(flow, 8, 100);
        Assert.Equal(52, flow.ConcurrencyLimit);
        var calls = Enumerable.Range(0, 53).Select(_ => Call()).ToList();
        var entered = calls.Select(flow.EnterAsync).ToList();

        // The 16 that could be in flight before, and the first new one, go at once; the next new one 2.78 ms later (3 ms:
        // waits count whole milliseconds).
        Assert.Equal(17, entered.Count(t => t.IsCompleted));
        Advance(2);
        Assert.Equal(17, entered.Count(t => t.IsCompleted));
        Advance(1);
        Assert.Equal(18, entered.Count(t => t.IsCompleted));
        Assert.Equal(TimeSpan.FromMilliseconds(803), Mocked.Done(entered[17]));

        // The last new slot opens at 35 x 2.78 = 97.2 ms (98 ms): then 52 are in flight, and the 53rd waits for a slot.
        for (var ms = 3; ms < 97; ms++) Advance(1);
        Assert.Equal(51, entered.Count(t => t.IsCompleted));
        Advance(1);
        Assert.Equal(52, entered.Count(t => t.IsCompleted));
        Assert.False(entered[52].IsCompleted);

        // A freed slot is taken at once: the waiting call goes now, woken on the thread pool (awaited, not slept for).
        Answer(flow, calls[0], Mocked.Done(entered[0]), 200);
        Assert.Equal(TimeSpan.FromMilliseconds(898), await entered[52]);
    }

    [Fact]
    public void Against_a_near_service_the_cap_grows_by_one_per_prompt_answer()
    {
        var flow = Flow();
        Succeed(flow, 8, 5);
        Succeed(flow, 1, 8);
        Assert.Equal(16, flow.ConcurrencyLimit);
        Succeed(flow, 3, 7.5);
        Assert.Equal(19, flow.ConcurrencyLimit);
    }

    [Fact]
    public void Answers_that_queue_lower_the_cap_a_tenth_each_to_8_and_prompt_ones_raise_it_one_each()
    {
        var flow = Flow();
        // The first 8 answers set the measure (100 ms: a distant service, 52 at once).
        Succeed(flow, 8, 100);
        Assert.Equal(52, flow.ConcurrencyLimit);
        // Up to twice the quickest is not yet queued; over it is.
        Succeed(flow, 1, 200);
        Assert.Equal(52, flow.ConcurrencyLimit);
        Succeed(flow, 1, 201);
        Assert.Equal(46, flow.ConcurrencyLimit);
        // 52 x 0.9^17 = 8.7 (8 calls); the next queued answer reaches the floor of 8 itself, and further ones keep it there.
        Succeed(flow, 16, 300);
        Assert.Equal(8, flow.ConcurrencyLimit);
        Succeed(flow, 1, 300);
        Assert.Equal(8, flow.ConcurrencyLimit);
        // Over 1.5 times the quickest is not prompt; at most it is, and each such answer raises the cap by one.
        Succeed(flow, 1, 151);
        Assert.Equal(8, flow.ConcurrencyLimit);
        Succeed(flow, 3, 150);
        Assert.Equal(11, flow.ConcurrencyLimit);
    }

    [Fact]
    public void Slow_answers_to_calls_sent_with_the_first_ones_do_not_lower_the_cap()
    {
        var flow = Flow();
        // 16 calls go together, each on a connection it opens: 8 come back after 60 ms (a distant service, 52 at once).
        var round = EnterTogether(flow, 16);
        Advance(60);
        Succeed(flow, round, 0, 8);
        Assert.Equal(52, flow.ConcurrencyLimit);

        // The other 8 took 150 ms, over twice the quickest: opening their connections, not a queue at the service.
        Advance(90);
        Succeed(flow, round, 8, 16);
        Assert.Equal(52, flow.ConcurrencyLimit);

        // A call sent after the measure was set that takes as long did queue: the cap comes down a tenth.
        Succeed(flow, 1, 150);
        Assert.Equal(46, flow.ConcurrencyLimit);
    }

    [Fact]
    public void Against_a_near_service_slow_answers_to_the_first_calls_lower_the_cap()
    {
        var flow = Flow();
        // 16 calls go together: 8 come back after 5 ms (a near service, this machine), 8 after 15 ms, over twice that.
        var round = EnterTogether(flow, 16);
        Advance(5);
        Succeed(flow, round, 0, 8);
        Advance(10);
        Succeed(flow, round, 8, 16);

        // More calls at once would only share the same cores (and meet a rate limit's window in a bigger burst): 16 x 0.9^8
        // is 6.9, so the floor of 8.
        Assert.Equal(8, flow.ConcurrencyLimit);
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
        var slots = Enumerable.Range(0, 16).Select(_ => flow.EnterAsync(Call())).ToList();
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
        Assert.Contains(mocked.VerboseLines, l => l.StartsWith("Dequeue was throttled (429, Retry-After 2.0 s): every call of the session waits 2.0 s."));
    }

    [Fact]
    public void A_token_wait_is_whole_milliseconds_and_never_zero()
    {
        // 1e-9 of a token at 1000 calls/s is 1e-12 s, which TimeSpan.FromSeconds rounds to 0 ticks; and a timer ends a wait
        // under a millisecond at once. Either way the wait loop would spin without the clock moving.
        Assert.Equal(TimeSpan.Zero, TimeSpan.FromSeconds(1e-9 / 1000));
        Assert.Equal(TimeSpan.FromMilliseconds(1), FlowControl.TokenWait(1e-9, 1000));
        Assert.Equal(TimeSpan.FromMilliseconds(1), FlowControl.TokenWait(0.099, 100.1));
        Assert.Equal(TimeSpan.FromMilliseconds(10), FlowControl.TokenWait(1, 100.1));
        Assert.Equal(TimeSpan.FromMilliseconds(150), FlowControl.TokenWait(1, 1 / 0.15));
    }

    [Fact]
    public void A_pace_whose_next_token_is_under_a_millisecond_away_admits_the_call_a_millisecond_later()
    {
        // The busy environment's pace (100 calls/s) after 9 ms of a 10 ms token: 0.1 ms to go, which a timer would not wait.
        var flow = ThrottledOnce();
        var refused = Call();
        Answer(flow, refused, Admit(flow, refused), 429, "1");
        var first = Call();
        var firstAdmitted = Mocked.Done(flow.EnterAsync(first));
        Advance(9);
        var next = flow.EnterAsync(Call());
        Assert.False(next.IsCompleted);
        Advance(1);
        Assert.Equal(firstAdmitted + TimeSpan.FromMilliseconds(10), Mocked.Done(next));
    }

    /// <summary>Lets a call in, moving fake time on a millisecond at a time while the flow control holds it back.</summary>
    private TimeSpan Admit(FlowControl flow, HttpMessage call)
    {
        var entering = flow.EnterAsync(call);
        for (var waited = 0; !entering.IsCompleted; waited++)
        {
            Assert.True(waited < 10_000, $"not admitted within 10 s; pace {flow.Rate}, cap {flow.ConcurrencyLimit}");
            Advance(1);
        }
        return Mocked.Done(entering);
    }

    /// <summary>
    /// 4 calls of 10 ms each got through (100 calls/s let through), then a 429 with Retry-After 1, and the first call after
    /// the pause (at 1.04 s) was refused too: a rate limit. The pace is 4 / (0.04 + 1 - 0.5) = 7.41 calls/s after the second
    /// 1 s pause (from 2.04 s), from 90% of it, and at most 2 calls in flight.
    /// </summary>
    private FlowControl ThrottledOnce()
    {
        var flow = Flow();
        Succeed(flow, 4, 10);
        var throttled = Call();
        Answer(flow, throttled, Mocked.Done(flow.EnterAsync(throttled)), 429, "1");
        Advance(1000);
        var probe = Call();
        Answer(flow, probe, Mocked.Done(flow.EnterAsync(probe)), 429, "1");
        Advance(1000);
        Assert.Equal(0.9 * 4 / 0.54, flow.Rate!.Value, 9);
        Assert.Equal(2, flow.ConcurrencyLimit);
        Assert.False(flow.BusyEnvironment);
        return flow;
    }

    [Fact]
    public void A_service_that_refuses_calls_whatever_the_pace_keeps_its_pace_and_each_refused_call_waits_its_own_Retry_After()
    {
        var flow = ThrottledOnce();
        // Refused again at the lowered pace (its first token 1 / 6.67 s = 150 ms after the pause): going slower did not help.
        var refused = Call();
        var admitted = Admit(flow, refused);
        Assert.Equal(TimeSpan.FromMilliseconds(2190), admitted);
        Answer(flow, refused, admitted, 429, "1");

        Assert.True(flow.BusyEnvironment);
        // The pace is the best rate let through recently (100 calls/s), the cap back to the 16 it was before the cut.
        Assert.Equal(100, flow.Rate!.Value, 6);
        Assert.Equal(16, flow.ConcurrencyLimit);
        // The refused call waits its Retry-After; another call is not paused.
        var again = flow.EnterAsync(refused);
        var other = Call();
        var otherEntered = flow.EnterAsync(other);
        Assert.Equal(TimeSpan.FromMilliseconds(2190), Mocked.Done(otherEntered));
        Advance(999);
        Assert.False(again.IsCompleted);
        Advance(1);
        Assert.Equal(TimeSpan.FromMilliseconds(3190), Mocked.Done(again));
        Answer(flow, refused, Mocked.Done(again), 200);
        Answer(flow, other, Mocked.Done(otherEntered), 200);

        // Later sporadic 429s lower nothing: the call after each goes one token (10 ms) later, and the others never pause.
        for (var i = 0; i < 3; i++)
        {
            var sporadic = Call();
            var sporadicAdmitted = Admit(flow, sporadic);
            Answer(flow, sporadic, sporadicAdmitted, 429, "1");
            Assert.True(flow.BusyEnvironment);
            Assert.Equal(16, flow.ConcurrencyLimit);
            Assert.True(flow.Rate!.Value >= 100, $"pace {flow.Rate}");
            var next = Call();
            var nextAdmitted = Admit(flow, next);
            Assert.Equal(sporadicAdmitted + TimeSpan.FromMilliseconds(10), nextAdmitted);
            Answer(flow, next, nextAdmitted, 200);
        }
    }

    [Fact]
    public void A_rate_limit_that_throttles_only_once_the_pace_has_grown_past_it_is_still_paced_down()
    {
        var flow = ThrottledOnce();
        var allowed = 4 / 0.54;
        // 6 s after the pause the cubic has passed the rate the service allowed; the next 429 is the limit's.
        Advance(6000);
        var grown = flow.Rate!.Value;
        Assert.True(grown > allowed);
        var throttled = Call();
        Answer(flow, throttled, Admit(flow, throttled), 429, "1");

        Assert.False(flow.BusyEnvironment);
        var waiting = flow.EnterAsync(Call());
        Advance(999);
        Assert.False(waiting.IsCompleted);
        // Lowered: 30% below the pace it was throttled at, from 90% of that after the pause.
        Advance(1);
        Assert.Equal(0.9 * 0.7 * grown, flow.Rate!.Value, 3);
    }

    [Fact]
    public void Six_refusals_in_a_row_mean_a_rate_limit_after_all_and_the_session_stays_paced()
    {
        var flow = ThrottledOnce();
        var first = Call();
        Answer(flow, first, Admit(flow, first), 429, "1");
        Assert.True(flow.BusyEnvironment);
        var fine = Call();
        Answer(flow, fine, Admit(flow, fine), 200);

        // Five refusals in a row are a busy environment's bad luck (1 in 3,125 at 1 in 5 refused) ...
        for (var i = 0; i < 5; i++)
        {
            var call = Call();
            Answer(flow, call, Admit(flow, call), 429, "2");
            Assert.True(flow.BusyEnvironment);
        }
        // ... the sixth is a rate limit: it pauses the whole session again, for the 2 s it names.
        var sixth = Call();
        Answer(flow, sixth, Admit(flow, sixth), 429, "2");
        Assert.False(flow.BusyEnvironment);
        var waiting = flow.EnterAsync(Call());
        Advance(1999);
        Assert.False(waiting.IsCompleted);
        Advance(1);
        // The pace is measured from the one the session kept before the busy spell (7.41 calls/s), not from scratch.
        Assert.True(flow.Rate!.Value >= 0.9 * 0.7 * 4 / 0.54 - 1e-9, $"pace {flow.Rate}");

        // A later throttling at a lowered pace is taken for the rate limit it is, not for a busy environment.
        var again = Call();
        Answer(flow, again, Admit(flow, again), 429, "1");
        Assert.False(flow.BusyEnvironment);
        var paused = flow.EnterAsync(Call());
        Advance(999);
        Assert.False(paused.IsCompleted);
    }

    [Fact]
    public void Calls_in_flight_all_refused_with_the_first_429_mark_a_rate_limit_and_no_busy_environment_follows()
    {
        var flow = Flow();
        Succeed(flow, 4, 10);
        // Six calls in flight when the service throttles: all come back refused, as a rate limit does.
        var calls = Enumerable.Range(0, 6).Select(_ => Call()).ToList();
        var admitted = calls.Select(c => Mocked.Done(flow.EnterAsync(c))).ToList();
        Advance(10);
        for (var i = 0; i < calls.Count; i++) Answer(flow, calls[i], admitted[i], 429, "1");
        Advance(1000);
        Assert.NotNull(flow.Rate);

        // Throttled again at the lowered pace: with a busy environment ruled out, it is paced down.
        var again = Call();
        Answer(flow, again, Admit(flow, again), 429, "1");
        Assert.False(flow.BusyEnvironment);
        var paused = flow.EnterAsync(Call());
        Advance(999);
        Assert.False(paused.IsCompleted);
    }
}

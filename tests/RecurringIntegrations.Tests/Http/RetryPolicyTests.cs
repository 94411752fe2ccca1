using System;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using RecurringIntegrations.Core.Errors;
using RecurringIntegrations.Core.Http;
using RecurringIntegrations.Tests.Support;
using Xunit;
using static RecurringIntegrations.Tests.Support.MockTransport;

namespace RecurringIntegrations.Tests.Http;

/// <summary>The retry policy on fake time: which failures go again, after exactly how long, and when it gives up.</summary>
public sealed class RetryPolicyTests
{
    private static readonly CancellationToken None = CancellationToken.None;
    private static readonly Guid MessageId = Guid.Parse("6d31e09f-0249-459f-94f0-aad9c2c47b64");
    private const string Processed = "{\"value\":\"Processed\"}";

    [Fact]
    public void Transient_failures_go_again_after_backoffs_that_double()
    {
        using var mocked = Mocked.Connect(Status(500), Status(502), Status(503), Status(504), Json(Processed));

        var call = mocked.Client.GetMessageStatusAsync(MessageId, None);
        mocked.Step(10_000, call);

        // Jitter 0 takes half of each ceiling (0.25 s, 0.5 s, 1 s, 2 s): 125 ms, 250 ms, 0.5 s, 1 s.
        Assert.Equal(new[] { 0.0, 125, 375, 875, 1875 }, mocked.Transport.SentAt);
        Assert.Equal("Processed", Mocked.Done(call));
        Assert.Contains("GetMessageStatus: trying again in 0.1 s (try 2, at most 8 failed) after 500 Internal Server Error.", mocked.VerboseLines);
    }

    [Fact]
    public void The_backoff_stops_growing_at_its_cap_and_jitter_scales_it()
    {
        var options = new RetryOptions { MaxAttempts = 9, BaseDelay = TimeSpan.FromSeconds(1), MaxDelay = TimeSpan.FromSeconds(10) };
        using var mocked = Mocked.Connect(options, 0.5, Status(500), Status(500), Status(500), Status(500), Status(500), Status(500), Json(Processed));

        var call = mocked.Client.GetMessageStatusAsync(MessageId, None);
        mocked.Step(60_000, call);

        // Ceilings 1, 2, 4, 8, then 10 s (the cap); jitter 0.5 takes three quarters of each.
        var waits = mocked.Transport.SentAt.Zip(mocked.Transport.SentAt.Skip(1), (a, b) => b - a);
        Assert.Equal(new[] { 750.0, 1500, 3000, 6000, 7500, 7500 }, waits);
        Assert.Equal("Processed", Mocked.Done(call));
    }

    [Fact]
    public void A_call_gives_up_after_its_tries_and_says_how_long_it_tried()
    {
        using var mocked = Mocked.Connect(Status(500));

        var call = mocked.Client.GetMessageStatusAsync(MessageId, None);
        mocked.Step(60_000, call);

        var error = Assert.IsType<D365Exception>(call.Exception!.InnerException);
        Assert.Equal("ServiceError", error.ErrorId);
        Assert.Equal(new[] { 0.0, 125, 375, 875, 1875, 3875, 7875, 15_875 }, mocked.Transport.SentAt);
        Assert.Contains("Tried 8 times over 16 s, then gave up.", error.Message);
    }

    [Fact]
    public void A_call_gives_up_before_a_wait_that_would_pass_the_total_backoff()
    {
        using var mocked = Mocked.Connect(new RetryOptions { MaxTotalWait = TimeSpan.FromSeconds(3) }, 0, Status(502));

        var call = mocked.Client.GetMessageStatusAsync(MessageId, None);
        mocked.Step(60_000, call);

        // 125 ms, 250 ms, 0.5 s and 1 s fit in 3 s; the next 2 s would not.
        var error = Assert.IsType<D365Exception>(call.Exception!.InnerException);
        Assert.Equal(new[] { 0.0, 125, 375, 875, 1875 }, mocked.Transport.SentAt);
        Assert.Contains("Tried 5 times over 1.9 s, then gave up: another wait would pass 3.0 s of backing off.", error.Message);
    }

    [Fact]
    public void An_answer_that_is_not_transient_fails_at_once()
    {
        using var mocked = Mocked.Connect(Status(400, "{\"error\":{\"message\":\"Bad message id\"}}"));

        var call = mocked.Client.GetMessageStatusAsync(MessageId, None);

        var error = Assert.IsType<D365Exception>(call.Exception!.InnerException);
        Assert.Equal("RequestRejected", error.ErrorId);
        Assert.Equal("Bad message id", error.ServiceMessage);
        Assert.Single(mocked.Transport.Requests);
    }

    [Theory]
    [InlineData(429, "2", 2000.0)]
    [InlineData(503, "2", 2000.0)]
    [InlineData(429, "date+3", 3000.0)]
    [InlineData(429, "date-3", 0.0)]
    [InlineData(429, null, 1000.0)]
    [InlineData(503, null, null)]
    [InlineData(500, "2", null)]
    public void Retry_After_names_the_pause_as_seconds_or_as_a_date(int status, string? retryAfter, double? pause)
    {
        var now = new DateTimeOffset(2026, 12, 7, 1, 0, 0, TimeSpan.Zero);
        var response = new System.Net.Http.HttpResponseMessage((System.Net.HttpStatusCode)status);
        var header = retryAfter?.StartsWith("date") == true ? now.AddSeconds(int.Parse(retryAfter[4..])).ToString("r") : retryAfter;
        if (header != null) response.Headers.TryAddWithoutValidation("Retry-After", header);

        Assert.Equal(pause, Throttling.PauseOf(response, now)?.TotalMilliseconds);
    }

    [Theory]
    [InlineData(429)]
    [InlineData(503)]
    public void Retry_After_0_backs_this_call_off_without_pausing_the_session(int status)
    {
        using var mocked = Mocked.Connect(Status(status, "", "0"), Json(Processed), Status(status, "", "0"), Status(204));

        var call = mocked.Client.DequeueAsync(Guid.NewGuid(), None);
        mocked.Advance(100);
        var other = mocked.Client.GetMessageStatusAsync(MessageId, None);
        mocked.Step(10_000, call);

        // The call backs off 125 ms, then 250 ms; another call of the session goes at once meanwhile.
        Assert.Equal(new[] { 0.0, 100, 125, 375 }, mocked.Transport.SentAt);
        Assert.True(call.IsCompletedSuccessfully);
        Assert.Equal("Processed", Mocked.Done(other));
        Assert.Null(mocked.Session.Flow.Rate);
    }

    [Fact]
    public void Throttling_that_never_ends_fails_once_the_throttling_budget_is_spent()
    {
        using var mocked = Mocked.Connect(new RetryOptions { ThrottlingBudget = TimeSpan.FromSeconds(3) }, 0, Status(429, "", "0"));

        var call = mocked.Client.DequeueAsync(Guid.NewGuid(), None);
        mocked.Step(60_000, call);

        // 125 ms, 250 ms, 0.5 s and 1 s of backing off fit in the budget of 3 s; the next 2 s would not.
        var error = Assert.IsType<D365Exception>(call.Exception!.InnerException);
        Assert.Equal(new[] { 0.0, 125, 375, 875, 1875 }, mocked.Transport.SentAt);
        Assert.Equal("Throttled", error.ErrorId);
        Assert.Equal(D365ErrorCategory.LimitsExceeded, error.Category);
        Assert.Contains("has waited 1.9 s (5 tries answered 429/503) out of the session's throttling budget of 3.0 s; the service kept answering 429", error.Message);
        Assert.Contains("-ThrottlingBudget", error.Message);
    }

    [Fact]
    public void A_try_with_no_answer_in_time_is_ended_and_made_again()
    {
        using var mocked = Mocked.Connect(new RetryOptions { RequestTimeout = TimeSpan.FromSeconds(10) }, 0, Hangs, Status(204));

        var call = mocked.Client.DequeueAsync(Guid.NewGuid(), None);
        mocked.Advance(9_999);
        Assert.Single(mocked.Transport.Requests);
        mocked.Step(1_000, call);

        // Ended at 10 s, tried again 125 ms later.
        Assert.Equal(new[] { 0.0, 10_125 }, mocked.Transport.SentAt);
        Assert.True(call.IsCompletedSuccessfully);
        Assert.Contains("Dequeue: trying again in 0.1 s (try 2, at most 8 failed) after no answer within 10 s.", mocked.VerboseLines);
    }

    [Fact]
    public async Task Cancellation_stops_a_call_waiting_on_Retry_After()
    {
        using var mocked = Mocked.Connect(Status(429, "", "8"), Status(204));
        using var cancel = new CancellationTokenSource();

        var call = mocked.Client.DequeueAsync(Guid.NewGuid(), cancel.Token);
        mocked.Advance(500);
        cancel.Cancel();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call);
        Assert.Single(mocked.Transport.Requests);
    }
}

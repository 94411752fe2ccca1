using System.Net;
using System.Net.Http;
using System.Net.Http.Headers;
using RecurringIntegrations.Core.Authentication;

namespace RecurringIntegrations.Core.Http
{
    /// <summary>
    /// Tries again after a transient failure, as far as the call's <see cref="ResendRule"/> allows: with exponential backoff and
    /// jitter, capped in tries and in total wait. With flow control, throttling is not a failure here: the flow control holds
    /// the next try back. Without it (storage), throttling is a transient failure like the others, and Retry-After its delay.
    /// </summary>
    internal sealed class RetryPolicy(RetryOptions options, TimeProvider time, Random jitter, FlowControl? flow)
    {
        private readonly RetryOptions _options = options;
        private readonly TimeProvider _time = time;
        private readonly Random _jitter = jitter;
        private readonly FlowControl? _flow = flow;

        /// <summary>Makes each try a fresh <see cref="TryContext"/> and sends it through <paramref name="sendTry"/>, the per-try policies.</summary>
        public async Task SendAsync(HttpMessage message, Func<TryContext, Task> sendTry)
        {
            var failedTries = 0;
            var backedOff = TimeSpan.Zero;
            while (true)
            {
                message.Tries++;
                TimeSpan delay;
                Failure failure;
                using (var attempt = new TryContext(message))
                {
                    try
                    {
                        await sendTry(attempt).ConfigureAwait(false);
                        if (attempt.Succeeded) return;
                        failure = Failure.OfAnswer(attempt, _time.GetUtcNow());
                    }
                    catch (Exception ex) when (Failure.IsTransport(ex, message.CancellationToken))
                    {
                        failure = Failure.OfTransport(ex);
                    }

                    if (failure.IsThrottling && _flow != null)
                    {
                        message.ThrottledTries++;
                        if (failure.RetryAfter != TimeSpan.Zero) continue;
                        // "Retry-After: 0" names no pause for the session; this call still must not hammer the service.
                        delay = Backoff(message.ThrottledTries);
                        if (message.ThrottledWait + delay > _flow.Budget)
                            throw _flow.Throttled(message, "the service kept answering 429");
                        message.ThrottledWait += delay;
                    }
                    else
                    {
                        var classifier = message.Classifier;
                        if (!classifier.IsTransient(failure)) throw classifier.Error(attempt, failure, null);
                        if (message.Resend.Judge(attempt, failure).Refusal is { } refusal) throw new ResendRefusedException(message, failure, refusal);
                        failedTries++;
                        delay = failure.RetryAfter is { } after && after > TimeSpan.Zero ? after : Backoff(failedTries);
                        if (failedTries >= _options.MaxAttempts)
                            throw classifier.Error(attempt, failure, $"Tried {message.TriesSoFar()}, then gave up.");
                        if (backedOff + delay > _options.MaxTotalWait)
                            throw classifier.Error(attempt, failure, $"Tried {message.TriesSoFar()}, then gave up: another wait would pass {Format.Duration(_options.MaxTotalWait)} of backing off.");
                        backedOff += delay;
                    }
                }
                message.Say($"{message.Operation}: trying again in {Format.Duration(delay)} (try {message.Tries + 1}, at most {_options.MaxAttempts} failed) after {failure.Description}.");
                await _time.Delay(delay, message.CancellationToken).ConfigureAwait(false);
            }
        }

        /// <summary>Exponential with full jitter, capped: spreads out many clients that failed together.</summary>
        private TimeSpan Backoff(int failedTries)
        {
            var ceiling = Math.Min(_options.MaxDelay.TotalMilliseconds, _options.BaseDelay.TotalMilliseconds * Math.Pow(2, failedTries - 1));
            double factor;
            lock (_jitter) factor = 0.5 + _jitter.NextDouble() / 2;
            return TimeSpan.FromMilliseconds(ceiling * factor);
        }
    }

    /// <summary>One small step of a try through the pipeline (in the manner of Azure.Core's HttpPipelinePolicy).</summary>
    internal abstract class HttpPipelinePolicy
    {
        public abstract Task ProcessAsync(TryContext attempt, HttpPipelinePolicy[] pipeline, int next);

        protected static Task ProcessNextAsync(TryContext attempt, HttpPipelinePolicy[] pipeline, int next) =>
            pipeline[next].ProcessAsync(attempt, pipeline, next + 1);
    }

    /// <summary>Holds each try back as the session's <see cref="FlowControl"/> says, and tells it how the try went.</summary>
    internal sealed class FlowControlPolicy(FlowControl flow) : HttpPipelinePolicy
    {
        private readonly FlowControl _flow = flow;

        public override async Task ProcessAsync(TryContext attempt, HttpPipelinePolicy[] pipeline, int next)
        {
            var admittedAt = await _flow.EnterAsync(attempt.Message).ConfigureAwait(false);
            try
            {
                await ProcessNextAsync(attempt, pipeline, next).ConfigureAwait(false);
            }
            finally
            {
                _flow.Leave(attempt, admittedAt);
            }
        }
    }

    /// <summary>The bearer token on every request, to the environment's own host only; one fresh token and one more try on 401.</summary>
    internal sealed class AuthenticationPolicy(ITokenProvider tokens, Uri environment) : HttpPipelinePolicy
    {
        private readonly ITokenProvider _tokens = tokens;
        private readonly Uri _environment = environment;

        public override async Task ProcessAsync(TryContext attempt, HttpPipelinePolicy[] pipeline, int next)
        {
            await AuthorizeAsync(attempt, false).ConfigureAwait(false);
            await ProcessNextAsync(attempt, pipeline, next).ConfigureAwait(false);
            if (attempt.Response?.StatusCode != HttpStatusCode.Unauthorized || _tokens is StaticTokenProvider) return;

            // A token can be revoked or rotated before its expiry: one fresh token gets one more try.
            attempt.Renew();
            await AuthorizeAsync(attempt, true).ConfigureAwait(false);
            await ProcessNextAsync(attempt, pipeline, next).ConfigureAwait(false);
        }

        private async Task AuthorizeAsync(TryContext attempt, bool forceRefresh)
        {
            if (!string.Equals(attempt.Request.RequestUri!.Host, _environment.Host, StringComparison.OrdinalIgnoreCase))
                throw new InvalidOperationException("Requests carrying the token go to the environment's own host only.");
            var token = await _tokens.GetTokenAsync(forceRefresh, attempt.Message.CancellationToken).ConfigureAwait(false);
            attempt.Request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token.Value);
        }
    }

    /// <summary>Limits one try: until its answer is in, or, for a streamed download, until its headers are (then inactivity limits it).</summary>
    internal sealed class TimeoutPolicy(TimeProvider time) : HttpPipelinePolicy
    {
        private readonly TimeProvider _time = time;

        public override async Task ProcessAsync(TryContext attempt, HttpPipelinePolicy[] pipeline, int next)
        {
            var message = attempt.Message;
            attempt.LimitTime(message.TryTimeout, _time);
            try
            {
                await ProcessNextAsync(attempt, pipeline, next).ConfigureAwait(false);
            }
            catch (OperationCanceledException ex) when (!message.CancellationToken.IsCancellationRequested)
            {
                throw new TryTimedOutException(message.TryTimeout, ex);
            }
        }
    }

    /// <summary>One verbose line per try: method, URL as <paramref name="show"/> shows it, status and time; never a header, so never a token.</summary>
    internal sealed class LoggingPolicy(TimeProvider time, Func<Uri, string> show) : HttpPipelinePolicy
    {
        private readonly TimeProvider _time = time;
        private readonly Func<Uri, string> _show = show;

        public override async Task ProcessAsync(TryContext attempt, HttpPipelinePolicy[] pipeline, int next)
        {
            var started = _time.GetTimestamp();
            var request = attempt.Request;
            var message = attempt.Message;
            try
            {
                await ProcessNextAsync(attempt, pipeline, next).ConfigureAwait(false);
                message.Say($"{request.Method} {_show(request.RequestUri!)} -> {(int)attempt.Response!.StatusCode} {attempt.Response.ReasonPhrase} ({Milliseconds(started)} ms)");
            }
            catch (Exception ex) when (Failure.IsTransport(ex, message.CancellationToken))
            {
                var what = attempt.Response is null ? "failed" : $"{(int)attempt.Response.StatusCode}, then reading the answer failed";
                message.Say($"{request.Method} {_show(request.RequestUri!)} -> {what}: {Failure.Describe(ex)} ({Milliseconds(started)} ms)");
                throw;
            }
        }

        private long Milliseconds(long started) => (long)_time.GetElapsedTime(started).TotalMilliseconds;
    }

    /// <summary>
    /// The wire: sends the try and reads its answer within it (a successful one through the call's reader). The send and an
    /// error body's read end at the try's cancellation also on .NET Framework, whose HttpClient stops observing the token once
    /// the headers are in (<see cref="BodyReads"/>).
    /// </summary>
    internal sealed class TransportPolicy(HttpClient http) : HttpPipelinePolicy
    {
        private readonly HttpClient _http = http;

        public override async Task ProcessAsync(TryContext attempt, HttpPipelinePolicy[] pipeline, int next)
        {
            var message = attempt.Message;
            var completion = message.StreamResponse ? HttpCompletionOption.ResponseHeadersRead : HttpCompletionOption.ResponseContentRead;
            try
            {
                attempt.Answered(await BodyReads.WaitAsync(_http.SendAsync(attempt.Request, completion, attempt.CancellationToken), attempt.CancellationToken,
                    late => late.Dispose()).ConfigureAwait(false));
            }
            catch (Exception) when (attempt.Request.Content is FileUploadContent { OpenFailure: { } local })
            {
                // The file to send could not be opened (another program holds it): a local error, not the network's.
                throw local;
            }
            if (attempt.Succeeded)
            {
                if (message.StreamResponse) attempt.EndTimeLimit();
                await message.ReadResponseAsync(attempt.Response!, attempt.CancellationToken).ConfigureAwait(false);
            }
            else
            {
                attempt.Failed(await ReadErrorBodyAsync(attempt.Response!, attempt.CancellationToken).ConfigureAwait(false));
            }
        }

        private static async Task<string> ReadErrorBodyAsync(HttpResponseMessage response, CancellationToken cancellationToken)
        {
            if (response.Content is null) return string.Empty;
            try
            {
                var reading = response.Content.ReadAsStringAsync();
                using (cancellationToken.Register(response.Dispose))
                {
                    var text = await BodyReads.WaitAsync(reading, cancellationToken).ConfigureAwait(false);
                    return text.Length > 65536 ? text.Substring(0, 65536) : text;
                }
            }
            catch (Exception ex) when (ex is IOException || ex is HttpRequestException || ex is ObjectDisposedException)
            {
                return string.Empty;
            }
        }
    }

    /// <summary>How long the service asks a client to wait: its Retry-After header, as a number of seconds or as a date.</summary>
    internal static class Throttling
    {
        private static readonly TimeSpan DefaultPause = TimeSpan.FromSeconds(1);

        /// <summary>How long the service asked the session to wait: 429 always (1 s when it did not say), 503 when it said.</summary>
        public static TimeSpan? PauseOf(HttpResponseMessage? response, DateTimeOffset now)
        {
            if (response is null) return null;
            var status = (int)response.StatusCode;
            if (status == 429) return RetryAfter(response, now) ?? DefaultPause;
            return status == 503 ? RetryAfter(response, now) : null;
        }

        public static TimeSpan? RetryAfter(HttpResponseMessage response, DateTimeOffset now)
        {
            var header = response.Headers.RetryAfter;
            if (header is null) return null;
            if (header.Delta is { } delta) return delta < TimeSpan.Zero ? TimeSpan.Zero : delta;
            if (header.Date is { } date)
            {
                var wait = date - now;
                return wait < TimeSpan.Zero ? TimeSpan.Zero : wait;
            }
            return null;
        }
    }
}

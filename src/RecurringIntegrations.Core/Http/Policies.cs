using System.Net;
using System.Net.Http;
using System.Net.Http.Headers;
using RecurringIntegrations.Core.Authentication;
using RecurringIntegrations.Core.Errors;

namespace RecurringIntegrations.Core.Http
{
    /// <summary>
    /// Tries again after a transient failure, as far as the call's <see cref="ResendRule"/> allows: with exponential backoff and
    /// jitter, capped in tries and in total wait. Throttling is not a failure here: the flow control holds the next try back.
    /// </summary>
    internal sealed class RetryPolicy(RetryOptions options, Uri environment, FlowControl flow) : HttpPipelinePolicy
    {
        private static readonly Random Jitter = new Random();
        private readonly RetryOptions _options = options;
        private readonly Uri _environment = environment;
        private readonly FlowControl _flow = flow;

        public override async Task ProcessAsync(HttpMessage message, HttpPipelinePolicy[] pipeline, int next)
        {
            var failedTries = 0;
            var backedOff = TimeSpan.Zero;
            while (true)
            {
                message.Tries++;
                message.Response = null;
                message.ErrorBody = string.Empty;
                TimeSpan delay;
                using (message.Request = message.CreateRequest())
                {
                    Failure failure;
                    try
                    {
                        await ProcessNextAsync(message, pipeline, next).ConfigureAwait(false);
                        if (message.Succeeded) return;
                        failure = Failure.OfAnswer(message);
                    }
                    catch (Exception ex) when (Failure.IsTransport(ex, message.CancellationToken))
                    {
                        failure = Failure.OfTransport(ex);
                    }

                    try
                    {
                        if (failure.IsThrottling)
                        {
                            message.ThrottledTries++;
                            if (failure.Status == 429 && failure.RetryAfter == TimeSpan.Zero)
                            {
                                // "Retry-After: 0" names no pause for the session; this call still must not hammer the service.
                                delay = Backoff(message.ThrottledTries);
                                if (message.ThrottledWait + delay > _flow.Budget)
                                    throw _flow.Throttled(message, "the service kept answering 429");
                                message.ThrottledWait += delay;
                            }
                            else continue;
                        }
                        else
                        {
                            if (!failure.IsTransient) throw Error(message, failure, null);
                            if (message.Resend.Refuse(message, failure) is { } refused) throw refused;
                            failedTries++;
                            delay = failure.RetryAfter ?? Backoff(failedTries);
                            if (failedTries >= _options.MaxAttempts)
                                throw Error(message, failure, $"Tried {message.TriesSoFar()}, then gave up.");
                            if (backedOff + delay > _options.MaxTotalWait)
                                throw Error(message, failure, $"Tried {message.TriesSoFar()}, then gave up: another wait would pass {Format.Duration(_options.MaxTotalWait)} of backing off.");
                            backedOff += delay;
                        }
                    }
                    finally
                    {
                        message.Response?.Dispose();
                    }
                    message.Say($"{message.Operation}: trying again in {Format.Duration(delay)} (try {message.Tries + 1}, at most {_options.MaxAttempts} failed) after {failure.Description}.");
                }
                await Task.Delay(delay, message.CancellationToken).ConfigureAwait(false);
            }
        }

        private D365Exception Error(HttpMessage message, Failure failure, string? done)
        {
            if (message.Response != null)
                return ResponseErrors.FromResponse(message.Operation, message.Response, message.ErrorBody, _environment, done);
            return (failure.TimedOut ? ErrorCatalog.RequestTimedOut : ErrorCatalog.ConnectionFailed).FromService(null, null, failure.Exception,
                message.Operation, _environment.Host, failure.Description, done is null ? string.Empty : " " + done);
        }

        /// <summary>Exponential with full jitter, capped: spreads out many clients that failed together.</summary>
        private TimeSpan Backoff(int failedTries)
        {
            var ceiling = Math.Min(_options.MaxDelay.TotalMilliseconds, _options.BaseDelay.TotalMilliseconds * Math.Pow(2, failedTries - 1));
            double factor;
            lock (Jitter) factor = 0.5 + Jitter.NextDouble() / 2;
            return TimeSpan.FromMilliseconds(ceiling * factor);
        }
    }

    /// <summary>Holds each try back as the session's <see cref="FlowControl"/> says, and tells it how the try went.</summary>
    internal sealed class FlowControlPolicy : HttpPipelinePolicy
    {
        private static readonly TimeSpan DefaultThrottlePause = TimeSpan.FromSeconds(1);
        private readonly FlowControl _flow;

        public FlowControlPolicy(FlowControl flow) => _flow = flow;

        public override async Task ProcessAsync(HttpMessage message, HttpPipelinePolicy[] pipeline, int next)
        {
            await _flow.EnterAsync(message).ConfigureAwait(false);
            try
            {
                await ProcessNextAsync(message, pipeline, next).ConfigureAwait(false);
            }
            finally
            {
                _flow.Leave(message, ThrottledFor(message.Response));
            }
        }

        /// <summary>How long the service asked the session to wait: 429 always (1 s when it did not say), 503 when it said.</summary>
        internal static TimeSpan? ThrottledFor(HttpResponseMessage? response)
        {
            if (response is null) return null;
            var status = (int)response.StatusCode;
            if (status == 429) return RetryAfter(response) ?? DefaultThrottlePause;
            return status == 503 ? RetryAfter(response) : null;
        }

        internal static TimeSpan? RetryAfter(HttpResponseMessage response)
        {
            var header = response.Headers.RetryAfter;
            if (header is null) return null;
            if (header.Delta is { } delta) return delta < TimeSpan.Zero ? TimeSpan.Zero : delta;
            if (header.Date is { } date)
            {
                var wait = date - DateTimeOffset.UtcNow;
                return wait < TimeSpan.Zero ? TimeSpan.Zero : wait;
            }
            return null;
        }
    }

    /// <summary>The bearer token on every request, to the environment's own host only; one fresh token and one more try on 401.</summary>
    internal sealed class AuthenticationPolicy : HttpPipelinePolicy
    {
        private readonly ITokenProvider _tokens;
        private readonly Uri _environment;

        public AuthenticationPolicy(ITokenProvider tokens, Uri environment)
        {
            _tokens = tokens;
            _environment = environment;
        }

        public override async Task ProcessAsync(HttpMessage message, HttpPipelinePolicy[] pipeline, int next)
        {
            await AuthorizeAsync(message, false).ConfigureAwait(false);
            await ProcessNextAsync(message, pipeline, next).ConfigureAwait(false);
            if (message.Response?.StatusCode != HttpStatusCode.Unauthorized || _tokens is StaticTokenProvider) return;

            // A token can be revoked or rotated before its expiry: one fresh token gets one more try.
            message.Response.Dispose();
            message.Response = null;
            message.Request.Dispose();
            message.Request = message.CreateRequest();
            await AuthorizeAsync(message, true).ConfigureAwait(false);
            await ProcessNextAsync(message, pipeline, next).ConfigureAwait(false);
        }

        private async Task AuthorizeAsync(HttpMessage message, bool forceRefresh)
        {
            if (!string.Equals(message.Request.RequestUri!.Host, _environment.Host, StringComparison.OrdinalIgnoreCase))
                throw new InvalidOperationException("Requests carrying the token go to the environment's own host only.");
            var token = await _tokens.GetTokenAsync(forceRefresh, message.CancellationToken).ConfigureAwait(false);
            message.Request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token.Value);
        }
    }

    /// <summary>Limits one try: until its answer is in, or, for a streamed download, until its headers are (then inactivity limits it).</summary>
    internal sealed class TimeoutPolicy : HttpPipelinePolicy
    {
        public override async Task ProcessAsync(HttpMessage message, HttpPipelinePolicy[] pipeline, int next)
        {
            using var timer = CancellationTokenSource.CreateLinkedTokenSource(message.CancellationToken);
            timer.CancelAfter(message.TryTimeout);
            message.TryTimer = timer;
            message.TryCancellation = timer.Token;
            try
            {
                await ProcessNextAsync(message, pipeline, next).ConfigureAwait(false);
            }
            catch (OperationCanceledException ex) when (!message.CancellationToken.IsCancellationRequested)
            {
                throw new TryTimedOutException(message.TryTimeout, ex);
            }
            finally
            {
                message.TryTimer = null;
            }
        }
    }

    internal sealed class TryTimedOutException : TimeoutException
    {
        public TryTimedOutException(TimeSpan timeout, Exception inner) : base($"no answer within {timeout.TotalSeconds:0.#} s", inner) { }
    }

    /// <summary>One verbose line per try: method, path, status and time; never a header, so never a token.</summary>
    internal sealed class LoggingPolicy : HttpPipelinePolicy
    {
        public override async Task ProcessAsync(HttpMessage message, HttpPipelinePolicy[] pipeline, int next)
        {
            var started = System.Diagnostics.Stopwatch.StartNew();
            var request = message.Request;
            try
            {
                await ProcessNextAsync(message, pipeline, next).ConfigureAwait(false);
                message.Say($"{request.Method} {request.RequestUri!.PathAndQuery} -> {(int)message.Response!.StatusCode} {message.Response.ReasonPhrase} ({started.ElapsedMilliseconds} ms)");
            }
            catch (Exception ex) when (Failure.IsTransport(ex, message.CancellationToken))
            {
                var what = message.Response is null ? "failed" : $"{(int)message.Response.StatusCode}, then reading the answer failed";
                message.Say($"{request.Method} {request.RequestUri!.PathAndQuery} -> {what}: {Failure.Describe(ex)} ({started.ElapsedMilliseconds} ms)");
                throw;
            }
        }
    }

    /// <summary>The wire: sends the try and reads its answer within it (a successful one through the call's reader).</summary>
    internal sealed class TransportPolicy : HttpPipelinePolicy
    {
        private readonly HttpClient _http;

        public TransportPolicy(HttpClient http) => _http = http;

        public override async Task ProcessAsync(HttpMessage message, HttpPipelinePolicy[] pipeline, int next)
        {
            var completion = message.StreamResponse ? HttpCompletionOption.ResponseHeadersRead : HttpCompletionOption.ResponseContentRead;
            message.Response = await _http.SendAsync(message.Request, completion, message.TryCancellation).ConfigureAwait(false);
            if (message.Succeeded)
            {
                if (message.StreamResponse) message.TryTimer?.CancelAfter(Timeout.InfiniteTimeSpan);
                await message.ReadResponse(message.Response, message.TryCancellation).ConfigureAwait(false);
            }
            else
            {
                message.ErrorBody = await ReadErrorBodyAsync(message.Response).ConfigureAwait(false);
            }
        }

        private static async Task<string> ReadErrorBodyAsync(HttpResponseMessage response)
        {
            if (response.Content is null) return string.Empty;
            try
            {
                var text = await response.Content.ReadAsStringAsync().ConfigureAwait(false);
                return text.Length > 65536 ? text.Substring(0, 65536) : text;
            }
            catch (Exception ex) when (ex is IOException || ex is HttpRequestException)
            {
                return string.Empty;
            }
        }
    }
}

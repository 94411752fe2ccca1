using System;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Net;
using System.Net.Http;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using RecurringIntegrations.Core.Authentication;

namespace RecurringIntegrations.Core.Http
{
    /// <summary>Whether a request may be sent again after a failure.</summary>
    internal enum Replay
    {
        /// <summary>Idempotent, or harmless to repeat (reads, status, ack).</summary>
        Safe,
        /// <summary>Only when the service cannot have accepted it: an enqueue must never create a duplicate message.</summary>
        OnlyIfNotAccepted,
    }

    /// <summary>
    /// Every HTTP call of a session goes through here: the bearer token, one verbose line per call, the retry policy,
    /// and the translation of failures into <see cref="D365Exception"/> with advice.
    /// </summary>
    internal sealed class D365Transport
    {
        private static readonly Random Jitter = new Random();
        private readonly HttpClient _http;
        private readonly ITokenProvider _tokens;
        private readonly Uri _environment;

        public D365Transport(HttpClient http, ITokenProvider tokens, Uri environment, RetryOptions retry)
        {
            _http = http;
            _tokens = tokens;
            _environment = environment;
            Retry = retry;
        }

        public RetryOptions Retry { get; }

        /// <summary>Sends until success, a final failure, or cancellation, and reads the answer within the same try.</summary>
        /// <param name="createRequest">Builds a fresh request (and body) for each try.</param>
        /// <param name="timeout">How long one try may take until its answer's headers (and, unless streamed, its body) are in.</param>
        /// <param name="streamResponse">Hand the response to <paramref name="readResponse"/> as soon as its headers arrive (downloads).</param>
        /// <param name="readResponse">Reads a successful response. I/O failures while reading count as a failed try.</param>
        public async Task<T> SendAsync<T>(string operation, Func<HttpRequestMessage> createRequest, Replay replay, TimeSpan timeout,
            bool streamResponse, Func<HttpResponseMessage, CancellationToken, Task<T>> readResponse, Action<string>? verbose,
            CancellationToken cancellationToken)
        {
            var waited = TimeSpan.Zero;
            var refreshedAfter401 = false;
            for (var attempt = 1; ; attempt++)
            {
                using var request = createRequest();
                if (!string.Equals(request.RequestUri!.Host, _environment.Host, StringComparison.OrdinalIgnoreCase))
                    throw new InvalidOperationException("Requests carrying the token go to the environment's own host only.");
                var token = await _tokens.GetTokenAsync(false, cancellationToken).ConfigureAwait(false);
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token.Value);
                var pathForLog = request.RequestUri.PathAndQuery;

                var watch = Stopwatch.StartNew();
                string failure;
                var refused = false;
                TimeSpan? retryAfter = null;
                D365Exception finalError;
                bool retriable;
                using (var attemptCancellation = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
                {
                    attemptCancellation.CancelAfter(timeout);
                    HttpResponseMessage? response = null;
                    try
                    {
                        response = await _http.SendAsync(request,
                            streamResponse ? HttpCompletionOption.ResponseHeadersRead : HttpCompletionOption.ResponseContentRead,
                            attemptCancellation.Token).ConfigureAwait(false);
                        var status = (int)response.StatusCode;
                        verbose?.Invoke($"{request.Method} {pathForLog} -> {status} {response.ReasonPhrase} ({watch.ElapsedMilliseconds} ms)");
                        if (status >= 200 && status < 300)
                        {
                            // A streamed body is limited by inactivity in the reader, not by the header timeout.
                            if (streamResponse) attemptCancellation.CancelAfter(Timeout.InfiniteTimeSpan);
                            return await readResponse(response, attemptCancellation.Token).ConfigureAwait(false);
                        }

                        if (response.StatusCode == HttpStatusCode.Unauthorized && !refreshedAfter401 && _tokens is not StaticTokenProvider)
                        {
                            // A token can be revoked or rotated before its expiry: one fresh token gets one more try.
                            refreshedAfter401 = true;
                            await _tokens.GetTokenAsync(true, cancellationToken).ConfigureAwait(false);
                            attempt--;
                            continue;
                        }

                        var body = await ReadErrorBodyAsync(response).ConfigureAwait(false);
                        finalError = ResponseErrors.FromResponse(operation, response, body, _environment);
                        retriable = status == 429 || status == 503 ||
                                    (replay == Replay.Safe && (status == 408 || status == 500 || status == 502 || status == 504));
                        retryAfter = status == 429 || status == 503 ? RetryAfter(response) : null;
                        failure = $"{status} {response.ReasonPhrase}";
                    }
                    catch (Exception ex) when (IsTransportFailure(ex, cancellationToken))
                    {
                        failure = ex is OperationCanceledException ? $"no answer within {timeout.TotalSeconds:0} s" : Describe(ex);
                        refused = IsConnectionRefused(ex);
                        if (response is null)
                            verbose?.Invoke($"{request.Method} {pathForLog} -> failed: {failure} ({watch.ElapsedMilliseconds} ms)");
                        else
                            verbose?.Invoke($"{request.Method} {pathForLog}: reading the answer failed: {failure} ({watch.ElapsedMilliseconds} ms)");
                        var notAccepted = refused || (response is null && request.Content is FileUploadContent upload && !upload.BodyStarted);
                        retriable = replay == Replay.Safe || notAccepted;
                        var timedOut = ex is OperationCanceledException;
                        finalError = replay == Replay.OnlyIfNotAccepted && !notAccepted
                            ? new D365Exception("EnqueueOutcomeUnknown", D365ErrorCategory.ConnectionError,
                                $"{operation}: the connection failed after the file was sent ({failure}); the service may or may not have accepted it.",
                                "The file was left in place and was not sent again, to avoid a duplicate message. Check the job's message history in the environment before sending it again.",
                                innerException: ex)
                            : new D365Exception(timedOut ? "RequestTimedOut" : "ConnectionFailed",
                                timedOut ? D365ErrorCategory.OperationTimeout : D365ErrorCategory.ConnectionError,
                                $"{operation}: no complete answer from {_environment.Host}: {failure}.",
                                "Check the environment URL, the network and any proxy; the call was retried where that was safe.",
                                innerException: ex);
                    }
                    finally
                    {
                        response?.Dispose();
                    }
                }

                if (!retriable || attempt >= Retry.MaxAttempts) throw finalError;
                var delay = retryAfter ?? Backoff(attempt);
                if (waited + delay > Retry.MaxTotalWait) throw finalError;
                verbose?.Invoke(retryAfter is null
                    ? $"{operation}: retrying in {delay.TotalSeconds:0.##} s (attempt {attempt + 1} of {Retry.MaxAttempts}) after {failure}."
                    : $"{operation}: the service asked to wait {delay.TotalSeconds:0.##} s (Retry-After); attempt {attempt + 1} of {Retry.MaxAttempts} follows.");
                await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
                waited += delay;
            }
        }

        private static bool IsTransportFailure(Exception ex, CancellationToken cancellationToken) =>
            ex is HttpRequestException || ex is IOException ||
            (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested);

        /// <summary>Exponential with full jitter, capped: spreads out many clients that failed together.</summary>
        private TimeSpan Backoff(int attempt)
        {
            var ceiling = Math.Min(Retry.MaxDelay.TotalMilliseconds, Retry.BaseDelay.TotalMilliseconds * Math.Pow(2, attempt - 1));
            double factor;
            lock (Jitter) factor = 0.5 + Jitter.NextDouble() / 2;
            return TimeSpan.FromMilliseconds(ceiling * factor);
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

        private static bool IsConnectionRefused(Exception ex)
        {
            for (var inner = ex; inner != null; inner = inner.InnerException)
                if (inner is SocketException socket && socket.SocketErrorCode == SocketError.ConnectionRefused) return true;
            return false;
        }

        private static string Describe(Exception ex)
        {
            var innermost = ex;
            while (innermost.InnerException != null) innermost = innermost.InnerException;
            return innermost is SocketException socket
                ? $"{socket.SocketErrorCode} ({socket.Message})"
                : innermost.Message;
        }
    }
}

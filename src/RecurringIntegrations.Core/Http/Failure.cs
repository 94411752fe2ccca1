using System.Net.Http;
using System.Net.Sockets;

namespace RecurringIntegrations.Core.Http
{
    /// <summary>What went wrong with one try, as the retry policy, a call's <see cref="ResendRule"/> and its classifier need to know it.</summary>
    internal sealed class Failure
    {
        private Failure(string description) => Description = description;

        /// <summary>The status of the answer; null when none came (or it could not be read).</summary>
        public int? Status { get; private set; }
        public string Description { get; }
        public Exception? Exception { get; private set; }
        public TimeSpan? RetryAfter { get; private set; }
        public bool TimedOut { get; private set; }
        public bool ConnectionRefused { get; private set; }
        /// <summary>The answer is the service's own OData error: the service handled the call and says it failed.</summary>
        public bool ServiceAnswered { get; private set; }

        /// <summary>Throttling is flow control: the session waits and the call goes again, within the throttling budget.</summary>
        public bool IsThrottling => Status == 429 || (Status == 503 && RetryAfter != null);

        public static Failure OfAnswer(TryContext attempt, DateTimeOffset now)
        {
            var response = attempt.Response!;
            var status = (int)response.StatusCode;
            return new Failure($"{status} {response.ReasonPhrase}")
            {
                Status = status,
                RetryAfter = Throttling.RetryAfter(response, now),
                ServiceAnswered = ResponseErrors.IsODataError(attempt.ErrorBody),
            };
        }

        public static Failure OfTransport(Exception ex) => new Failure(Describe(ex))
        {
            Exception = ex,
            TimedOut = ex is TryTimedOutException,
            ConnectionRefused = IsConnectionRefused(ex),
        };

        public static bool IsTransport(Exception ex, CancellationToken cancellationToken) =>
            ex is HttpRequestException || ex is IOException || ex is TryTimedOutException ||
            (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested);

        public static string Describe(Exception ex)
        {
            if (ex is TryTimedOutException) return ex.Message;
            var innermost = ex;
            while (innermost.InnerException != null) innermost = innermost.InnerException;
            return innermost is SocketException socket ? $"{socket.SocketErrorCode} ({socket.Message})" : innermost.Message;
        }

        private static bool IsConnectionRefused(Exception ex)
        {
            for (var inner = ex; inner != null; inner = inner.InnerException)
                if (inner is SocketException socket && socket.SocketErrorCode == SocketError.ConnectionRefused) return true;
            return false;
        }
    }

    internal sealed class TryTimedOutException : TimeoutException
    {
        public TryTimedOutException(TimeSpan timeout, Exception inner) : base($"no answer within {timeout.TotalSeconds:0.#} s", inner) { }
    }
}

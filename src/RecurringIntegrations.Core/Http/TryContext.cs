using System.Net.Http;

namespace RecurringIntegrations.Core.Http
{
    /// <summary>
    /// One try of a call, made fresh by the retry policy for each try so that nothing of one try (its request, its answer,
    /// its time limit) reaches the next. The per-try policies read and fill it in order: the time limit first, the answer last.
    /// </summary>
    internal sealed class TryContext : IDisposable
    {
        private TryTimeLimit? _limit;

        public TryContext(HttpMessage message)
        {
            Message = message;
            Request = message.CreateRequest();
        }

        public HttpMessage Message { get; }
        public HttpRequestMessage Request { get; private set; }
        /// <summary>The answer, once the transport has it; null while none came.</summary>
        public HttpResponseMessage? Response { get; private set; }
        /// <summary>The body of a failed answer, read within the try.</summary>
        public string ErrorBody { get; private set; } = string.Empty;
        /// <summary>The caller's cancellation, plus this try's time limit once one is set.</summary>
        public CancellationToken CancellationToken => _limit?.Token ?? Message.CancellationToken;

        public bool Succeeded => Response != null && (int)Response.StatusCode >= 200 && (int)Response.StatusCode < 300;

        /// <summary>Cancels this try once <paramref name="limit"/> has passed on <paramref name="time"/> (a limit set before is replaced).</summary>
        public void LimitTime(TimeSpan limit, TimeProvider time)
        {
            _limit?.Dispose();
            _limit = new TryTimeLimit(limit, time, Message.CancellationToken);
        }

        /// <summary>The headers of a streamed answer are in: from here its reader limits the body by inactivity.</summary>
        public void EndTimeLimit() => _limit?.Stop();

        public void Answered(HttpResponseMessage response) => Response = response;

        public void Failed(string errorBody) => ErrorBody = errorBody;

        /// <summary>Sends the call again within this try (a fresh token after a 401): a fresh request, the last answer dropped.</summary>
        public void Renew()
        {
            Response?.Dispose();
            Response = null;
            ErrorBody = string.Empty;
            Request.Dispose();
            Request = Message.CreateRequest();
        }

        public void Dispose()
        {
            _limit?.Dispose();
            Response?.Dispose();
            Request.Dispose();
        }

        /// <summary>A cancellation that fires after a time on a <see cref="TimeProvider"/>, linked to the caller's.</summary>
        private sealed class TryTimeLimit : IDisposable
        {
            private readonly CancellationTokenSource _source;
            private readonly ITimer _timer;

            public TryTimeLimit(TimeSpan limit, TimeProvider time, CancellationToken cancellationToken)
            {
                _source = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                _timer = time.CreateTimer(Expire, _source, limit, Timeout.InfiniteTimeSpan);
            }

            public CancellationToken Token => _source.Token;

            public void Stop() => _timer.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);

            public void Dispose()
            {
                _timer.Dispose();
                _source.Dispose();
            }

            private static void Expire(object? source)
            {
                try
                {
                    ((CancellationTokenSource)source!).Cancel();
                }
                catch (ObjectDisposedException)
                {
                    // The try ended while the timer fired.
                }
            }
        }
    }
}

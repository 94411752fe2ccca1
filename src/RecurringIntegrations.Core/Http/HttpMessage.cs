using System.Net.Http;

namespace RecurringIntegrations.Core.Http
{
    /// <summary>
    /// One call through a pipeline, made by <see cref="HttpPipeline.CreateMessage{T}"/>. What the call needs is set by
    /// name before it is sent (its resend rule, classifier, time limit per try); what the tries did so far is counted here
    /// for the errors that say it. Each try's own state lives in its <see cref="TryContext"/>.
    /// </summary>
    internal abstract class HttpMessage
    {
        private readonly TimeProvider _time;
        private long _startedAt;

        protected HttpMessage(string operation, Func<HttpRequestMessage> createRequest, ResponseClassifier classifier, TimeSpan tryTimeout,
            TimeProvider time, Action<string>? verbose)
        {
            Operation = operation;
            CreateRequest = createRequest;
            Classifier = classifier;
            TryTimeout = tryTimeout;
            Verbose = verbose;
            _time = time;
        }

        /// <summary>The name errors and verbose lines give the call ("Enqueue", "Put Block"); flow control measures by it too.</summary>
        public string Operation { get; }
        /// <summary>A fresh request (and body) for each try: a sent HttpRequestMessage cannot be sent again.</summary>
        public Func<HttpRequestMessage> CreateRequest { get; }
        /// <summary>Whether the call may go again after a transient failure. Reads, status calls and acks may.</summary>
        public ResendRule Resend { get; set; } = ResendRule.Always;
        /// <summary>What a failed try means: another try, or which error.</summary>
        public ResponseClassifier Classifier { get; set; }
        /// <summary>How long one try may take; a streamed answer only until its headers are in.</summary>
        public TimeSpan TryTimeout { get; set; }
        /// <summary>Hand the response over as soon as its headers arrive (downloads); its body is then limited by inactivity.</summary>
        public bool StreamResponse { get; set; }
        public Action<string>? Verbose { get; }

        /// <summary>The caller's cancellation (Ctrl+C): never mistaken for a timeout.</summary>
        public CancellationToken CancellationToken { get; private set; }
        public int Tries { get; set; }
        /// <summary>Tries the service answered with throttling (429, or 503 with Retry-After).</summary>
        public int ThrottledTries { get; set; }
        /// <summary>Time this call spent held back by the session's flow control (pauses, pacing) and its throttled tries.</summary>
        public TimeSpan ThrottledWait { get; set; }
        /// <summary>On the flow control's clock: until when this call alone waits, as the service asked of it in a busy environment.</summary>
        public TimeSpan RefusedUntil { get; set; }
        public TimeSpan Elapsed => _time.GetElapsedTime(_startedAt);

        /// <summary>Reads a successful answer within the try, so that an I/O failure while reading counts as a failed try.</summary>
        public abstract Task ReadResponseAsync(HttpResponseMessage response, CancellationToken cancellationToken);

        public void Say(string line) => Verbose?.Invoke(line);

        /// <summary>"3 times over 1.2 s", for error messages that say what was done.</summary>
        public string TriesSoFar() => Tries == 1
            ? $"once ({Format.Duration(Elapsed)})"
            : $"{Tries} times over {Format.Duration(Elapsed)}";

        internal void Start(CancellationToken cancellationToken)
        {
            CancellationToken = cancellationToken;
            _startedAt = _time.GetTimestamp();
        }
    }

    /// <summary>A call whose successful answer is read into a <typeparamref name="T"/>.</summary>
    internal sealed class HttpMessage<T> : HttpMessage
    {
        private readonly Func<HttpResponseMessage, CancellationToken, Task<T>> _readResponse;

        public HttpMessage(string operation, Func<HttpRequestMessage> createRequest, Func<HttpResponseMessage, CancellationToken, Task<T>> readResponse,
            ResponseClassifier classifier, TimeSpan tryTimeout, TimeProvider time, Action<string>? verbose)
            : base(operation, createRequest, classifier, tryTimeout, time, verbose) => _readResponse = readResponse;

        /// <summary>What the last successful try read.</summary>
        public T Value { get; private set; } = default!;

        public override async Task ReadResponseAsync(HttpResponseMessage response, CancellationToken cancellationToken) =>
            Value = await _readResponse(response, cancellationToken).ConfigureAwait(false);
    }

    internal static class Format
    {
        public static string Duration(TimeSpan span) =>
            span.TotalSeconds < 10 ? $"{span.TotalSeconds:0.0} s"
            : span.TotalMinutes < 2 ? $"{span.TotalSeconds:0} s"
            : $"{(int)span.TotalMinutes} min {span.Seconds} s";
    }
}

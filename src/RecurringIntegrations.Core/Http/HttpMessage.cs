using System.Diagnostics;
using System.Net.Http;

namespace RecurringIntegrations.Core.Http
{
    /// <summary>One call on its way through the pipeline: how to build each try's request, what became of the last try.</summary>
    internal sealed class HttpMessage
    {
        public HttpMessage(string operation, Func<HttpRequestMessage> createRequest, ResendRule resend, TimeSpan tryTimeout,
            bool streamResponse, Func<HttpResponseMessage, CancellationToken, Task> readResponse, Action<string>? verbose,
            CancellationToken cancellationToken)
        {
            Operation = operation;
            CreateRequest = createRequest;
            Resend = resend;
            TryTimeout = tryTimeout;
            StreamResponse = streamResponse;
            ReadResponse = readResponse;
            Verbose = verbose;
            CancellationToken = cancellationToken;
        }

        public string Operation { get; }
        /// <summary>A fresh request (and body) for each try: a sent HttpRequestMessage cannot be sent again.</summary>
        public Func<HttpRequestMessage> CreateRequest { get; }
        public ResendRule Resend { get; }
        public TimeSpan TryTimeout { get; }
        /// <summary>Hand the response over as soon as its headers arrive (downloads); its body is then limited by inactivity.</summary>
        public bool StreamResponse { get; }
        /// <summary>Reads a successful answer within the try, so that an I/O failure while reading counts as a failed try.</summary>
        public Func<HttpResponseMessage, CancellationToken, Task> ReadResponse { get; }
        public Action<string>? Verbose { get; }
        /// <summary>The caller's cancellation (Ctrl+C): never mistaken for a timeout.</summary>
        public CancellationToken CancellationToken { get; }

        public HttpRequestMessage Request { get; set; } = null!;
        public HttpResponseMessage? Response { get; set; }
        /// <summary>The body of a failed answer, read within the try.</summary>
        public string ErrorBody { get; set; } = string.Empty;
        /// <summary>The current try's cancellation: the caller's, plus the per-try timeout.</summary>
        public CancellationToken TryCancellation { get; set; }
        internal CancellationTokenSource? TryTimer { get; set; }

        public Stopwatch Elapsed { get; } = Stopwatch.StartNew();
        /// <summary>Time this call spent held back by the session's flow control (pauses, pacing) and its throttled tries.</summary>
        public TimeSpan ThrottledWait { get; set; }
        public int Tries { get; set; }
        /// <summary>When the session's flow control let the current try go (its own clock).</summary>
        internal TimeSpan AdmittedAt { get; set; }
        public int ThrottledTries { get; set; }

        public bool Succeeded => Response != null && (int)Response.StatusCode >= 200 && (int)Response.StatusCode < 300;

        public void Say(string line) => Verbose?.Invoke(line);

        /// <summary>"3 times over 1.2 s", for error messages that say what was done.</summary>
        public string TriesSoFar() => Tries == 1
            ? $"once ({Format.Duration(Elapsed.Elapsed)})"
            : $"{Tries} times over {Format.Duration(Elapsed.Elapsed)}";
    }

    internal static class Format
    {
        public static string Duration(TimeSpan span) =>
            span.TotalSeconds < 10 ? $"{span.TotalSeconds:0.0} s"
            : span.TotalMinutes < 2 ? $"{span.TotalSeconds:0} s"
            : $"{(int)span.TotalMinutes} min {span.Seconds} s";
    }

    /// <summary>One small step of the request pipeline (in the manner of Azure.Core's HttpPipelinePolicy).</summary>
    internal abstract class HttpPipelinePolicy
    {
        public abstract Task ProcessAsync(HttpMessage message, HttpPipelinePolicy[] pipeline, int next);

        protected static Task ProcessNextAsync(HttpMessage message, HttpPipelinePolicy[] pipeline, int next) =>
            pipeline[next].ProcessAsync(message, pipeline, next + 1);
    }

    /// <summary>The session's chain: retry, flow control, authentication, per-try timeout, logging, transport.</summary>
    internal sealed class HttpPipeline
    {
        private readonly HttpPipelinePolicy[] _policies;

        public HttpPipeline(params HttpPipelinePolicy[] policies) => _policies = policies;

        public async Task<T> SendAsync<T>(string operation, Func<HttpRequestMessage> createRequest, ResendRule resend, TimeSpan tryTimeout,
            bool streamResponse, Func<HttpResponseMessage, CancellationToken, Task<T>> readResponse, Action<string>? verbose,
            CancellationToken cancellationToken)
        {
            var result = default(T)!;
            var message = new HttpMessage(operation, createRequest, resend, tryTimeout, streamResponse,
                async (response, token) => result = await readResponse(response, token).ConfigureAwait(false), verbose, cancellationToken);
            await _policies[0].ProcessAsync(message, _policies, 1).ConfigureAwait(false);
            return result;
        }
    }
}

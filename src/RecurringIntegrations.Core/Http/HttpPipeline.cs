using System.Net.Http;
using RecurringIntegrations.Core.Authentication;

namespace RecurringIntegrations.Core.Http
{
    /// <summary>
    /// The chain one host's calls go through: the retry policy around the call, then the per-try policies, the transport
    /// last. Made by <see cref="HttpPipelineBuilder"/>; it makes its own messages, with its defaults, and sends them.
    /// </summary>
    internal sealed class HttpPipeline
    {
        private readonly RetryOptions _options;
        private readonly TimeProvider _time;
        private readonly ResponseClassifier _classifier;
        private readonly RetryPolicy _retry;
        private readonly HttpPipelinePolicy[] _perTry;

        public HttpPipeline(RetryOptions options, TimeProvider time, ResponseClassifier classifier, RetryPolicy retry, params HttpPipelinePolicy[] perTry)
        {
            _options = options;
            _time = time;
            _classifier = classifier;
            _retry = retry;
            _perTry = perTry;
        }

        /// <summary>
        /// A call named <paramref name="operation"/> whose successful answer <paramref name="readResponse"/> reads. It may go
        /// again at any failure, each try may take <see cref="RetryOptions.RequestTimeout"/> and failures are told by this
        /// pipeline's classifier, until the caller sets otherwise.
        /// </summary>
        public HttpMessage<T> CreateMessage<T>(string operation, Func<HttpRequestMessage> createRequest,
            Func<HttpResponseMessage, CancellationToken, Task<T>> readResponse, Action<string>? verbose) =>
            new HttpMessage<T>(operation, createRequest, readResponse, _classifier, _options.RequestTimeout, _time, verbose);

        public async Task<T> SendAsync<T>(HttpMessage<T> message, CancellationToken cancellationToken)
        {
            message.Start(cancellationToken);
            await _retry.SendAsync(message, attempt => _perTry[0].ProcessAsync(attempt, _perTry, 1)).ConfigureAwait(false);
            return message.Value;
        }
    }

    /// <summary>
    /// Makes a session's two pipelines from the same policies, over one transport and one clock: the environment's (with its
    /// token and the session's flow control) and the storage's behind the package API (a SAS URL is its only credential, so
    /// no token ever goes there; the storage host has its own limits, so the environment's flow control does not steer it).
    /// </summary>
    internal sealed class HttpPipelineBuilder(RetryOptions options, HttpClient transport, TimeProvider time, Random jitter)
    {
        private readonly RetryOptions _options = options;
        private readonly HttpClient _transport = transport;
        private readonly TimeProvider _time = time;
        private readonly Random _jitter = jitter;

        /// <summary>Retry, flow control, authentication, per-try timeout, logging, transport.</summary>
        public HttpPipeline BuildEnvironment(Uri environment, ITokenProvider tokens, FlowControl flow) =>
            new HttpPipeline(_options, _time, new EnvironmentClassifier(environment),
                new RetryPolicy(_options, _time, _jitter, flow),
                new FlowControlPolicy(flow),
                new AuthenticationPolicy(tokens, environment),
                new TimeoutPolicy(_time),
                new LoggingPolicy(_time, uri => uri.PathAndQuery),
                new TransportPolicy(_transport));

        /// <summary>Retry, per-try timeout, logging with the URL's signature hidden, transport.</summary>
        public HttpPipeline BuildStorage(ResponseClassifier classifier, Func<Uri, string> show) =>
            new HttpPipeline(_options, _time, classifier,
                new RetryPolicy(_options, _time, _jitter, null),
                new TimeoutPolicy(_time),
                new LoggingPolicy(_time, show),
                new TransportPolicy(_transport));
    }
}

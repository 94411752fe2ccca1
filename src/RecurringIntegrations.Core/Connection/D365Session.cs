using System.Net;
using System.Net.Http;
using System.Security.Cryptography.X509Certificates;
using RecurringIntegrations.Core.Authentication;
using RecurringIntegrations.Core.Http;
using RecurringIntegrations.Core.Errors;

namespace RecurringIntegrations.Core.Connection
{
    /// <summary>What Connect-D365 needs to make a session.</summary>
    public sealed class ConnectionOptions
    {
        public static readonly Uri PublicCloudAuthorityHost = new Uri("https://login.microsoftonline.com");

        public ConnectionOptions(string environment, D365Credential credential)
        {
            Environment = environment;
            Credential = credential ?? throw new ArgumentNullException(nameof(credential));
        }

        public string Environment { get; }
        public D365Credential Credential { get; }
        public Uri AuthorityHost { get; set; } = PublicCloudAuthorityHost;
        /// <summary>Accept any server certificate: for test servers only.</summary>
        public bool SkipCertificateCheck { get; set; }
        public RetryOptions Retry { get; set; } = new RetryOptions();
        /// <summary>The proxy of every call (token, environment, storage); null: HTTPS_PROXY / HTTP_PROXY / NO_PROXY, else the system's.</summary>
        public Uri? Proxy { get; set; }
        /// <summary>User name and password for the proxy (whichever one is used).</summary>
        public NetworkCredential? ProxyCredential { get; set; }
        /// <summary>Sign in to the proxy as the account running the command (Windows integrated proxies).</summary>
        public bool ProxyUseDefaultCredentials { get; set; }
        /// <summary>Connections kept open to the environment; bounds parallel transfers (the service allows 52 calls in flight per user).</summary>
        public int MaxConnections { get; set; } = FlowControl.MaxInFlight;
        /// <summary>Test seam: trust exactly this self-signed server certificate, as a machine that installed it would.</summary>
        internal X509Certificate2? TrustedServerCertificate { get; set; }
        /// <summary>Test seam: the clock of every wait, time limit and timestamp of the session.</summary>
        internal TimeProvider Time { get; set; } = TimeProvider.System;
        /// <summary>Test seam: reads the environment's proxy variables.</summary>
        internal Func<string, string?> ReadVariable { get; set; } = System.Environment.GetEnvironmentVariable;
        /// <summary>Test seam: the wire itself, instead of connections to the environment and the storage host.</summary>
        internal HttpMessageHandler? Transport { get; set; }
        /// <summary>Test seam: where the jitter of retry delays comes from.</summary>
        internal Random Jitter { get; set; } = new Random();
    }

    /// <summary>
    /// An authenticated connection to one environment: one HttpClient (connection reuse), one token source and one flow
    /// control shared by every call. Holds no secret in plain text.
    /// </summary>
    public sealed class D365Session : IDisposable
    {
        private static D365Session? _default;
        private readonly HttpClient _http;

        private D365Session(ConnectionOptions options, Uri environment, HttpClient http, ITokenProvider tokens, string? proxy)
        {
            Proxy = proxy;
            EnvironmentUri = environment;
            Environment = EnvironmentAddress.ToText(environment);
            AuthenticationKind = options.Credential.Kind;
            switch (options.Credential)
            {
                case ClientSecretCredential secret: TenantId = secret.TenantId; ClientId = secret.ClientId; break;
                case ClientCertificateCredential certificate:
                    TenantId = certificate.TenantId; ClientId = certificate.ClientId; CertificateThumbprint = certificate.Certificate.Thumbprint; break;
                case ManagedIdentityCredential identity: ClientId = identity.UserAssignedClientId; break;
                case ClientAssertionCredential assertion: TenantId = assertion.TenantId; ClientId = assertion.ClientId; break;
                case DeviceCodeCredential deviceCode: TenantId = deviceCode.TenantId; ClientId = deviceCode.ClientId; break;
            }
            AuthorityHost = options.Credential is ClientSecretCredential or ClientCertificateCredential or ClientAssertionCredential or DeviceCodeCredential
                ? options.AuthorityHost.ToString().TrimEnd('/') : null;
            SkipCertificateCheck = options.SkipCertificateCheck;
            _http = http;
            Tokens = tokens;
            Retry = options.Retry;
            Time = options.Time;
            Flow = new FlowControl(options.Retry.ThrottlingBudget, Time);
            Pipelines = new HttpPipelineBuilder(options.Retry, http, Time, options.Jitter);
            Pipeline = Pipelines.BuildEnvironment(environment, tokens, Flow);
            ConnectedAt = Time.GetLocalNow();
        }

        /// <summary>The session made by the last Connect-D365, used when a cmdlet gets no -Session.</summary>
        public static D365Session? Default
        {
            get => Volatile.Read(ref _default);
            set => Volatile.Write(ref _default, value);
        }

        /// <summary>The environment's URL with its path, if it has one (on-premises: https://ax.contoso.com/namespaces/AXSF).</summary>
        public string Environment { get; }
        public string AuthenticationKind { get; }
        public string? TenantId { get; }
        public string? ClientId { get; }
        public string? CertificateThumbprint { get; }
        public string? AuthorityHost { get; }
        public bool SkipCertificateCheck { get; }
        /// <summary>The proxy the calls take and where that came from (-Proxy, a variable, the system's settings); never a credential.</summary>
        public string? Proxy { get; }
        public DateTimeOffset ConnectedAt { get; }
        /// <summary>How long one call may be held back by throttling in all (Connect-D365 -ThrottlingBudget).</summary>
        public TimeSpan ThrottlingBudget => Flow.Budget;
        /// <summary>When the current token expires (local time); null when unknown.</summary>
        public DateTimeOffset? TokenExpiresOn => Tokens.ExpiresOn?.ToLocalTime();
        /// <summary>Tokens fetched from the identity provider so far: stays at 1 for thousands of calls within a token's lifetime.</summary>
        public int TokenRequests => Tokens.TokenRequests;

        internal Uri EnvironmentUri { get; }
        internal ITokenProvider Tokens { get; }
        internal RetryOptions Retry { get; }
        /// <summary>Shared by every call of the session, from any cmdlet, runspace or parallel worker.</summary>
        internal FlowControl Flow { get; }
        /// <summary>Makes the pipelines of this session's calls: the environment's below, the storage's for the package API.</summary>
        internal HttpPipelineBuilder Pipelines { get; }
        internal HttpPipeline Pipeline { get; }
        /// <summary>The clock of every wait and timestamp of the session: the system's, a fake one in tests.</summary>
        internal TimeProvider Time { get; }
        internal bool IsDisposed { get; private set; }

        /// <summary>Makes a session and acquires its first token now, so a wrong credential fails here and not mid-run.</summary>
        public static async Task<D365Session> ConnectAsync(ConnectionOptions options, CancellationToken cancellationToken)
        {
            if (options is null) throw new ArgumentNullException(nameof(options));
            if (options.Retry.ThrottlingBudget <= TimeSpan.Zero)
                throw ErrorCatalog.ThrottlingBudgetInvalid.Create(options.Retry.ThrottlingBudget);
            var environment = EnvironmentAddress.Normalize(options.Environment);
            var audience = EnvironmentAddress.ToAudience(environment);
            var route = options.Transport is null
                ? ProxyDecision.Decide(options.Proxy, options.ProxyCredential, options.ProxyUseDefaultCredentials, options.ReadVariable)
                : null;
            var handler = options.Transport ?? CreateHandler(options, route!);
            var http = CreateHttpClient(handler, disposeHandler: options.Transport is null);
            try
            {
                var msalHttp = new MsalHttpClientFactory(http);
                ITokenProvider tokens;
                switch (options.Credential)
                {
                    case ClientSecretCredential:
                    case ClientCertificateCredential:
                    case ClientAssertionCredential:
                    case DeviceCodeCredential:
                        var authorityHost = CheckAuthorityHost(options.AuthorityHost);
                        if (authorityHost.Scheme == Uri.UriSchemeHttp)
                        {
                            // MSAL speaks https only; a local test server on plain http gets MSAL's requests rewritten.
                            msalHttp = new MsalHttpClientFactory(CreateHttpClient(new PlainHttpForLoopback(authorityHost) { InnerHandler = handler }, disposeHandler: false));
                            authorityHost = new UriBuilder(authorityHost) { Scheme = Uri.UriSchemeHttps, Port = authorityHost.Port }.Uri;
                        }
                        tokens = options.Credential is DeviceCodeCredential deviceCode
                            ? new DeviceCodeTokenProvider(deviceCode, audience, authorityHost, msalHttp)
                            : new ConfidentialClientTokenProvider(options.Credential, audience, authorityHost, msalHttp);
                        break;
                    case ManagedIdentityCredential identity:
                        tokens = new ManagedIdentityTokenProvider(identity, audience, msalHttp);
                        break;
                    case AccessTokenCredential token:
                        tokens = new StaticTokenProvider(token);
                        break;
                    case TokenProviderCredential provider:
                        tokens = new CallerTokenProvider(provider);
                        break;
                    default:
                        throw new ArgumentException("Unknown credential kind.", nameof(options));
                }
                await tokens.GetTokenAsync(false, cancellationToken).ConfigureAwait(false);
                return new D365Session(options, environment, http, tokens, route?.Description);
            }
            catch
            {
                http.Dispose();
                throw;
            }
        }

        /// <summary>https, or http on loopback only (a local emulator or stand-in), as for environments.</summary>
        private static Uri CheckAuthorityHost(Uri authorityHost)
        {
            if (authorityHost is null || !authorityHost.IsAbsoluteUri ||
                !(authorityHost.Scheme == Uri.UriSchemeHttps || (authorityHost.Scheme == Uri.UriSchemeHttp && EnvironmentAddress.IsLoopback(authorityHost))))
                throw ErrorCatalog.AuthorityHostInvalid.Create(authorityHost);
            return authorityHost;
        }

        private static HttpMessageHandler CreateHandler(ConnectionOptions options, ProxyRoute route)
        {
            var handler = new HttpClientHandler
            {
                // Redirects are never followed: the token must not travel to another host, and on-premises
                // environments answer the connector with a redirect that deserves a clear error.
                AllowAutoRedirect = false,
                AutomaticDecompression = DecompressionMethods.GZip | DecompressionMethods.Deflate,
                MaxConnectionsPerServer = Math.Max(1, options.MaxConnections),
                UseCookies = false,
            };
            if (options.SkipCertificateCheck)
                handler.ServerCertificateCustomValidationCallback = (_, _, _, _) => true;
            else if (options.TrustedServerCertificate is { } trusted)
                handler.ServerCertificateCustomValidationCallback = (_, certificate, _, errors) =>
                    errors == System.Net.Security.SslPolicyErrors.None ||
                    (certificate != null && string.Equals(certificate.GetCertHashString(), trusted.GetCertHashString(), StringComparison.OrdinalIgnoreCase));
            // The system's proxy is the runtime's default one (left unset); its credentials are the default proxy credentials.
            if (route.Source == ProxySource.System)
                handler.DefaultProxyCredentials = route.Credentials;
            else
                handler.Proxy = route;
            return new ProxyErrorHandler(route, route.Credentials != null) { InnerHandler = handler };
        }

        private static HttpClient CreateHttpClient(HttpMessageHandler handler, bool disposeHandler)
        {
            var client = new HttpClient(handler, disposeHandler) { Timeout = System.Threading.Timeout.InfiniteTimeSpan };
            client.DefaultRequestHeaders.UserAgent.ParseAdd("RecurringIntegrations/" + typeof(D365Session).Assembly.GetName().Version);
            return client;
        }

        /// <summary>Sends MSAL's https requests for one loopback authority over plain http.</summary>
        private sealed class PlainHttpForLoopback : DelegatingHandler
        {
            private readonly Uri _authorityHost;

            public PlainHttpForLoopback(Uri authorityHost) => _authorityHost = authorityHost;

            protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
            {
                var uri = request.RequestUri;
                if (uri != null && uri.Scheme == Uri.UriSchemeHttps && uri.Port == _authorityHost.Port &&
                    string.Equals(uri.Host, _authorityHost.Host, StringComparison.OrdinalIgnoreCase))
                    request.RequestUri = new UriBuilder(uri) { Scheme = Uri.UriSchemeHttp, Port = uri.Port }.Uri;
                return base.SendAsync(request, cancellationToken);
            }
        }

        /// <summary>Closes the connections and forgets the token (MSAL's in-memory cache goes with its application).</summary>
        public void Dispose()
        {
            IsDisposed = true;
            _http.Dispose();
        }

        public override string ToString() => $"{Environment} ({AuthenticationKind})";
    }
}

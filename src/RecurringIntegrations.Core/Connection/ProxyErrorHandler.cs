using System.Net;
using System.Net.Http;
using System.Net.Sockets;
using System.Reflection;
using RecurringIntegrations.Core.Errors;

namespace RecurringIntegrations.Core.Connection
{
    /// <summary>
    /// Under every call of a session (token, environment, storage): a call that went through a proxy and failed there ends
    /// with an error naming the proxy, not as a failure of the service. Neither is tried again: a 407 will not change by
    /// itself, and nothing reached the service, so no upload can have been accepted.
    /// </summary>
    internal sealed class ProxyErrorHandler(ProxyRoute route, bool credentialsGiven) : DelegatingHandler
    {
        private readonly ProxyRoute _route = route;
        private readonly bool _credentialsGiven = credentialsGiven;

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var destination = request.RequestUri!;
            HttpResponseMessage response;
            try
            {
                response = await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested && ProxyFailure.Of(ex) is { } failure && _route.ProxyFor(destination) is { } proxy)
            {
                throw failure == ProxyFailureKind.AuthenticationRequired
                    ? AuthenticationRequired(proxy, destination, ex)
                    : ErrorCatalog.ProxyUnreachable.Wrap(ex, ProxyDecision.Show(proxy), destination.Host, Http.Failure.Describe(ex), SourceAdvice());
            }
            // A plain http call through a proxy (and .NET Framework's HttpClientHandler for a tunnel) gets the 407 as an answer.
            if (response.StatusCode == HttpStatusCode.ProxyAuthenticationRequired)
            {
                response.Dispose();
                throw AuthenticationRequired(_route.ProxyFor(destination) ?? destination, destination, null);
            }
            return response;
        }

        private D365Exception AuthenticationRequired(Uri proxy, Uri destination, Exception? inner) =>
            ErrorCatalog.ProxyAuthenticationRequired.FromService(HttpStatusCode.ProxyAuthenticationRequired, null, inner,
                ProxyDecision.Show(proxy), destination.Host,
                _credentialsGiven ? "it refused the credentials given" : "no credentials were given");

        private string SourceAdvice() => _route.Source switch
        {
            ProxySource.Parameter => "-Proxy",
            ProxySource.Environment => "HTTPS_PROXY",
            _ => "the system's proxy settings (Internet Options)",
        };
    }

    internal enum ProxyFailureKind
    {
        AuthenticationRequired,
        Unreachable,
    }

    /// <summary>How each runtime tells that the proxy refused a call or could not be reached.</summary>
    internal static class ProxyFailure
    {
        public static ProxyFailureKind? Of(Exception ex)
        {
            for (var inner = ex; inner != null; inner = inner.InnerException)
            {
                // .NET Framework: the 407 of the tunnel as a protocol error; a proxy it could not resolve or connect to.
                if (inner is WebException web)
                {
                    if (web.Response is HttpWebResponse { StatusCode: HttpStatusCode.ProxyAuthenticationRequired }) return ProxyFailureKind.AuthenticationRequired;
                    if (web.Status is WebExceptionStatus.ProxyNameResolutionFailure or WebExceptionStatus.ConnectFailure) return ProxyFailureKind.Unreachable;
                }
                // .NET 5 and later: the tunnel's status on the exception (not on every version), else in its text
                // ("The proxy tunnel request to proxy '...' failed with status code '407'.").
                if (inner is HttpRequestException && (StatusOf(inner) == HttpStatusCode.ProxyAuthenticationRequired ||
                    inner.Message.IndexOf("'407'", StringComparison.Ordinal) >= 0)) return ProxyFailureKind.AuthenticationRequired;
                // Through a proxy the only connection made is to the proxy: a connection that could not be opened is its.
                // A connection lost later (reset, aborted) is not taken: the call may have reached the service.
                if (inner is SocketException socket && socket.SocketErrorCode is SocketError.ConnectionRefused or SocketError.HostNotFound
                    or SocketError.TryAgain or SocketError.NoData or SocketError.HostUnreachable or SocketError.NetworkUnreachable
                    or SocketError.AddressNotAvailable) return ProxyFailureKind.Unreachable;
            }
            return null;
        }

        private static readonly PropertyInfo? StatusCodeProperty = typeof(HttpRequestException).GetProperty("StatusCode");

        private static HttpStatusCode? StatusOf(Exception ex) => StatusCodeProperty?.GetValue(ex) as HttpStatusCode?;
    }
}

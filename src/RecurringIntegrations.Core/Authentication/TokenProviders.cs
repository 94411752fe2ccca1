using System.Net.Http;
using System.Runtime.InteropServices;
using System.Security;
using System.Text;
using System.Text.Json;
using Microsoft.Identity.Client;
using Microsoft.Identity.Client.AppConfig;
using RecurringIntegrations.Core.Errors;

namespace RecurringIntegrations.Core.Authentication
{
    internal sealed class BearerToken(string value, DateTimeOffset? expiresOn)
    {
        public string Value { get; } = value;
        /// <summary>Null when the token's lifetime is unknown (a caller-supplied token that is not a JWT).</summary>
        public DateTimeOffset? ExpiresOn { get; } = expiresOn;
    }

    internal interface ITokenProvider
    {
        /// <summary>A valid token, from cache while it has more than the refresh margin left; concurrent callers share one request.</summary>
        Task<BearerToken> GetTokenAsync(bool forceRefresh, CancellationToken cancellationToken);

        /// <summary>How many tokens were actually requested from the identity provider (cache hits not counted).</summary>
        int TokenRequests { get; }

        DateTimeOffset? ExpiresOn { get; }
    }

    /// <summary>
    /// Keeps the current token and asks the source for a new one only when it is within the refresh margin
    /// of expiry, so thousands of calls share one token and a burst of parallel calls makes one request.
    /// </summary>
    internal abstract class CachingTokenProvider : ITokenProvider
    {
        internal static readonly TimeSpan RefreshMargin = TimeSpan.FromMinutes(5);
        private readonly SemaphoreSlim _gate = new SemaphoreSlim(1, 1);
        private volatile Entry? _current;
        private int _tokenRequests;

        public int TokenRequests => Volatile.Read(ref _tokenRequests);
        public DateTimeOffset? ExpiresOn => _current?.Token.ExpiresOn;

        /// <summary>Test seam: the time freshness is judged by.</summary>
        internal Func<DateTimeOffset> Clock { get; set; } = () => DateTimeOffset.UtcNow;

        public async Task<BearerToken> GetTokenAsync(bool forceRefresh, CancellationToken cancellationToken)
        {
            var seen = _current;
            if (!forceRefresh && seen is { } fresh && IsFresh(fresh)) return fresh.Token;
            await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                // Another caller may have renewed the token while this one waited: then that token serves both.
                if (_current is { } current && IsFresh(current) && (!forceRefresh || current.Token.Value != seen?.Token.Value))
                    return current.Token;
                var (token, fromSource) = await AcquireAsync(forceRefresh, cancellationToken).ConfigureAwait(false);
                if (fromSource) Interlocked.Increment(ref _tokenRequests);
                _current = new Entry(token, FreshUntil(token, Clock()));
                return token;
            }
            finally
            {
                _gate.Release();
            }
        }

        /// <summary>
        /// Renewed from the refresh margin before expiry, or from half its lifetime for a token shorter than twice the
        /// margin (a caller's short-lived token would otherwise be asked for again at every call).
        /// </summary>
        private static DateTimeOffset? FreshUntil(BearerToken token, DateTimeOffset now)
        {
            if (token.ExpiresOn is not { } expiresOn) return null;
            var half = TimeSpan.FromTicks(Math.Max(0, (expiresOn - now).Ticks / 2));
            return expiresOn - (half < RefreshMargin ? half : RefreshMargin);
        }

        private bool IsFresh(Entry entry) => entry.FreshUntil is not { } until || Clock() < until;

        /// <summary>The token in hand while it has not expired (it may be inside the refresh margin); null otherwise.</summary>
        protected BearerToken? Unexpired => _current?.Token is { } token && (token.ExpiresOn is not { } expiresOn || Clock() < expiresOn) ? token : null;

        /// <summary>One token from the source, and whether the source made it (false: served from MSAL's cache).</summary>
        protected abstract Task<(BearerToken Token, bool FromSource)> AcquireAsync(bool forceRefresh, CancellationToken cancellationToken);

        internal static string Reveal(SecureString secure)
        {
            var pointer = IntPtr.Zero;
            try
            {
                pointer = Marshal.SecureStringToGlobalAllocUnicode(secure);
                return Marshal.PtrToStringUni(pointer) ?? string.Empty;
            }
            finally
            {
                if (pointer != IntPtr.Zero) Marshal.ZeroFreeGlobalAllocUnicode(pointer);
            }
        }

        private sealed class Entry(BearerToken token, DateTimeOffset? freshUntil)
        {
            public BearerToken Token { get; } = token;
            public DateTimeOffset? FreshUntil { get; } = freshUntil;
        }
    }

    /// <summary>A token source behind MSAL, whose failures are read for their AADSTS code.</summary>
    internal abstract class MsalTokenProvider : CachingTokenProvider
    {
        /// <summary>True for managed identity, whose failures get their own advice.</summary>
        protected abstract bool IsManagedIdentity { get; }

        /// <summary>One MSAL request; MSAL serves it from its own cache when it can.</summary>
        protected abstract Task<AuthenticationResult> RequestAsync(bool forceRefresh, CancellationToken cancellationToken);

        protected override async Task<(BearerToken Token, bool FromSource)> AcquireAsync(bool forceRefresh, CancellationToken cancellationToken)
        {
            try
            {
                var result = await RequestAsync(forceRefresh, cancellationToken).ConfigureAwait(false);
                return (new BearerToken(result.AccessToken, result.ExpiresOn),
                    result.AuthenticationResultMetadata?.TokenSource == TokenSource.IdentityProvider);
            }
            catch (MsalException ex)
            {
                throw TokenErrors.FromMsal(ex, IsManagedIdentity);
            }
            catch (Exception ex) when (TokenErrors.IsUnreachable(ex, cancellationToken))
            {
                throw TokenErrors.Unreachable(ex, IsManagedIdentity);
            }
        }
    }

    /// <summary>Where MSAL signs in: Microsoft Entra ID (a cloud's host and a tenant) or AD FS (an authority host ending in /adfs).</summary>
    internal static class Authorities
    {
        private static readonly string[] MicrosoftCloudHosts =
        {
            "login.microsoftonline.com", "login.microsoftonline.us", "login.chinacloudapi.cn", "login.partner.microsoftonline.cn",
            "login.microsoftonline.de", "login.windows.net", "login.microsoft.com", "sts.windows.net",
        };

        internal static bool IsMicrosoftCloud(Uri authorityHost) =>
            Array.Exists(MicrosoftCloudHosts, host => string.Equals(host, authorityHost.Host, StringComparison.OrdinalIgnoreCase));

        /// <summary>AD FS answers under /adfs (https://adfs.contoso.com/adfs); Entra ID authorities have no path.</summary>
        internal static bool IsAdfs(Uri authorityHost) =>
            authorityHost.AbsolutePath.TrimEnd('/').EndsWith("/adfs", StringComparison.OrdinalIgnoreCase);

        /// <summary>Points a builder at the authority. AD FS has no tenant; Entra ID needs one.</summary>
        internal static T Apply<T>(AbstractApplicationBuilder<T> builder, Uri authorityHost, string? tenantId) where T : AbstractApplicationBuilder<T>
        {
            // AD FS is not validated: MSAL would ask the domain's WebFinger endpoint, which on-premises farms rarely publish.
            if (IsAdfs(authorityHost))
                return builder.WithAdfsAuthority(authorityHost.GetLeftPart(UriPartial.Path).TrimEnd('/') + "/", validateAuthority: false);
            if (tenantId is null)
                throw ErrorCatalog.TenantIdMissing.Create();
            var authority = authorityHost.GetLeftPart(UriPartial.Authority) + "/" + Uri.EscapeDataString(tenantId);
            // Microsoft's own sign-in hosts are validated; any other (a test server, a stand-in) is taken as given,
            // since instance discovery would ask login.microsoftonline.com about a host it cannot know.
            var microsoftCloud = IsMicrosoftCloud(authorityHost);
            return builder.WithAuthority(authority, validateAuthority: microsoftCloud).WithInstanceDiscovery(microsoftCloud);
        }
    }

    /// <summary>Client secret, certificate and client assertion credentials through an MSAL confidential client (MSAL keeps its own cache too).</summary>
    internal sealed class ConfidentialClientTokenProvider : MsalTokenProvider
    {
        private readonly IConfidentialClientApplication _app;
        private readonly string[] _scopes;

        public ConfidentialClientTokenProvider(D365Credential credential, string environment, Uri authorityHost, IMsalHttpClientFactory httpClientFactory)
        {
            string? tenantId;
            ConfidentialClientApplicationBuilder builder;
            switch (credential)
            {
                case ClientSecretCredential secret:
                    tenantId = secret.TenantId;
                    builder = ConfidentialClientApplicationBuilder.Create(secret.ClientId).WithClientSecret(Reveal(secret.ClientSecret));
                    break;
                case ClientCertificateCredential certificate:
                    tenantId = certificate.TenantId;
                    builder = ConfidentialClientApplicationBuilder.Create(certificate.ClientId).WithCertificate(certificate.Certificate);
                    break;
                case ClientAssertionCredential assertion:
                    tenantId = assertion.TenantId;
                    builder = ConfidentialClientApplicationBuilder.Create(assertion.ClientId)
                        .WithClientAssertion(request => GetAssertionAsync(assertion, request.CancellationToken));
                    break;
                default:
                    throw new ArgumentException("Not a confidential-client credential.", nameof(credential));
            }

            _app = Authorities.Apply(builder, authorityHost, tenantId).WithHttpClientFactory(httpClientFactory).Build();
            // AD FS 2019 and Entra ID both take the resource as the scope <resource>/.default.
            _scopes = new[] { environment + "/.default" };
        }

        private static async Task<string> GetAssertionAsync(ClientAssertionCredential credential, CancellationToken cancellationToken)
        {
            string? assertion;
            try
            {
                assertion = await credential.Assertion(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (!(ex is D365Exception) && !(ex is OperationCanceledException && cancellationToken.IsCancellationRequested))
            {
                throw ErrorCatalog.ClientAssertionFailed.Wrap(ex, ex.Message);
            }
            if (string.IsNullOrWhiteSpace(assertion))
                throw ErrorCatalog.ClientAssertionEmpty.Create();
            return assertion!.Trim();
        }

        protected override bool IsManagedIdentity => false;

        protected override Task<AuthenticationResult> RequestAsync(bool forceRefresh, CancellationToken cancellationToken) =>
            _app.AcquireTokenForClient(_scopes).WithForceRefresh(forceRefresh).ExecuteAsync(cancellationToken);
    }

    /// <summary>
    /// A person signs in once with a device code (MSAL public client); every later token comes silently from the
    /// refresh token MSAL keeps in memory, so a long run is never interrupted by a second prompt.
    /// </summary>
    internal sealed class DeviceCodeTokenProvider : MsalTokenProvider
    {
        private readonly IPublicClientApplication _app;
        private readonly string[] _scopes;
        private readonly Action<string> _showMessage;

        public DeviceCodeTokenProvider(DeviceCodeCredential credential, string environment, Uri authorityHost, IMsalHttpClientFactory httpClientFactory)
        {
            _app = Authorities.Apply(PublicClientApplicationBuilder.Create(credential.ClientId), authorityHost, credential.TenantId)
                .WithHttpClientFactory(httpClientFactory).Build();
            _scopes = new[] { environment + "/.default" };
            _showMessage = credential.ShowMessage;
        }

        protected override bool IsManagedIdentity => false;

        protected override async Task<AuthenticationResult> RequestAsync(bool forceRefresh, CancellationToken cancellationToken)
        {
            var accounts = await _app.GetAccountsAsync().ConfigureAwait(false);
            var account = accounts.FirstOrDefault();
            if (account is null)
                return await _app.AcquireTokenWithDeviceCode(_scopes, code =>
                {
                    _showMessage(code.Message);
                    return Task.CompletedTask;
                }).ExecuteAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                return await _app.AcquireTokenSilent(_scopes, account).WithForceRefresh(forceRefresh).ExecuteAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (MsalUiRequiredException ex)
            {
                throw ErrorCatalog.DeviceCodeSignInExpired.FromService(null, ex.Message, ex);
            }
        }
    }

    /// <summary>The caller's own token source (Connect-D365 -TokenProvider), asked through the same cache and gate as MSAL.</summary>
    internal sealed class CallerTokenProvider(TokenProviderCredential credential) : CachingTokenProvider
    {
        private readonly Func<CancellationToken, Task<ProvidedToken?>> _provider = credential.Provider;

        protected override async Task<(BearerToken Token, bool FromSource)> AcquireAsync(bool forceRefresh, CancellationToken cancellationToken)
        {
            ProvidedToken? provided;
            try
            {
                provided = await _provider(cancellationToken).ConfigureAwait(false);
            }
            catch (D365Exception ex) when (ex.ErrorId == ErrorCatalog.TokenProviderUnavailable.ErrorId && !forceRefresh && Unexpired is { } inHand)
            {
                // Renewing early is a courtesy: while the script cannot run (its runspace is busy), the token in hand serves
                // until it expires, and a later call tries again.
                return (inHand, false);
            }
            catch (Exception ex) when (!(ex is D365Exception) && !(ex is OperationCanceledException && cancellationToken.IsCancellationRequested))
            {
                throw ErrorCatalog.TokenProviderFailed.Wrap(ex, ex.Message);
            }
            var value = provided?.Token.Trim() ?? string.Empty;
            // Some sources hand out the whole header value.
            if (value.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase)) value = value.Substring(7).Trim();
            if (value.Length == 0)
                throw ErrorCatalog.TokenProviderNoToken.Create();
            var expiresOn = provided!.ExpiresOn ?? StaticTokenProvider.ReadJwtExpiry(value);
            if (expiresOn is { } expiry && expiry <= Clock())
                throw ErrorCatalog.TokenProviderTokenExpired.Create(expiry);
            return (new BearerToken(value, expiresOn), true);
        }
    }

    /// <summary>Managed identity (system or user-assigned) through MSAL: Azure Automation, App Service, VMs.</summary>
    internal sealed class ManagedIdentityTokenProvider : MsalTokenProvider
    {
        private readonly IManagedIdentityApplication _app;
        private readonly string _resource;

        public ManagedIdentityTokenProvider(ManagedIdentityCredential credential, string environment, IMsalHttpClientFactory httpClientFactory)
        {
            var id = credential.UserAssignedClientId is null
                ? ManagedIdentityId.SystemAssigned
                : ManagedIdentityId.WithUserAssignedClientId(credential.UserAssignedClientId);
            _app = ManagedIdentityApplicationBuilder.Create(id).WithHttpClientFactory(httpClientFactory).Build();
            _resource = environment;
        }

        protected override bool IsManagedIdentity => true;

        protected override Task<AuthenticationResult> RequestAsync(bool forceRefresh, CancellationToken cancellationToken) =>
            _app.AcquireTokenForManagedIdentity(_resource).WithForceRefresh(forceRefresh).ExecuteAsync(cancellationToken);
    }

    /// <summary>A token the caller already holds: used as is, never refreshed; its expiry is read from the JWT when it is one.</summary>
    internal sealed class StaticTokenProvider : ITokenProvider
    {
        private readonly SecureString _token;

        public StaticTokenProvider(AccessTokenCredential credential)
        {
            _token = credential.AccessToken;
            ExpiresOn = ReadJwtExpiry(CachingTokenProvider.Reveal(_token));
        }

        public int TokenRequests => 0;
        public DateTimeOffset? ExpiresOn { get; }

        public Task<BearerToken> GetTokenAsync(bool forceRefresh, CancellationToken cancellationToken)
        {
            if (ExpiresOn is { } expiresOn && expiresOn <= DateTimeOffset.UtcNow)
                throw ErrorCatalog.AccessTokenExpired.Create(expiresOn);
            return Task.FromResult(new BearerToken(CachingTokenProvider.Reveal(_token), ExpiresOn));
        }

        internal static DateTimeOffset? ReadJwtExpiry(string token)
        {
            var parts = token.Split('.');
            if (parts.Length != 3) return null;
            try
            {
                var payload = parts[1].Replace('-', '+').Replace('_', '/');
                payload = payload.PadRight(payload.Length + (4 - payload.Length % 4) % 4, '=');
                using var document = JsonDocument.Parse(Encoding.UTF8.GetString(Convert.FromBase64String(payload)));
                if (document.RootElement.ValueKind == JsonValueKind.Object &&
                    document.RootElement.TryGetProperty("exp", out var exp) && exp.TryGetInt64(out var seconds))
                    return DateTimeOffset.FromUnixTimeSeconds(seconds);
            }
            catch (FormatException) { }
            catch (JsonException) { }
            return null;
        }
    }

    internal sealed class MsalHttpClientFactory : IMsalHttpClientFactory
    {
        private readonly HttpClient _client;
        public MsalHttpClientFactory(HttpClient client) => _client = client;
        public HttpClient GetHttpClient() => _client;
    }

    internal static class TokenErrors
    {
        public static D365Exception FromMsal(MsalException ex, bool managedIdentity)
        {
            var text = ex.Message ?? string.Empty;
            // A device code sign-in of an app that is not a public client: the token endpoint wants a secret it never gets.
            if (text.Contains("AADSTS7000218"))
                return ErrorCatalog.PublicClientFlowsDisabled.FromService(null, FirstLine(text), ex);
            string advice;
            if (text.Contains("AADSTS7000215"))
                advice = "The client secret is wrong or expired: create a new secret for the app registration and connect with it.";
            else if (text.Contains("AADSTS700016"))
                advice = "No app with this client id exists in the tenant: check -ClientId and -TenantId.";
            else if (text.Contains("AADSTS90002") || text.Contains("AADSTS90013"))
                advice = "The tenant was not found: check -TenantId (a GUID or a domain such as contoso.onmicrosoft.com) and -AuthorityHost for other clouds.";
            else if (text.Contains("AADSTS700027") || text.Contains("AADSTS700023"))
                advice = "The certificate is not registered on the app: upload its public key under Certificates & secrets.";
            else if (ex.ErrorCode == "code_expired")
                advice = "No one signed in with the device code before it expired: run Connect-D365 -DeviceCode again and enter the code within 15 minutes.";
            else if (ex.ErrorCode == "authorization_declined" || text.Contains("AADSTS50126"))
                advice = "The sign-in was declined or failed: run Connect-D365 -DeviceCode again and sign in with an account of the tenant.";
            else if (text.Contains("AADSTS700211") || text.Contains("AADSTS700213") || text.Contains("AADSTS70021"))
                advice = "The federated token does not match a federated credential of the app: check its issuer, subject and audience (api://AzureADTokenExchange) under Certificates & secrets > Federated credentials.";
            else if (managedIdentity)
                advice = "Managed identity works only inside Azure (Automation, App Service, Functions, VMs) with an identity enabled; for a user-assigned identity pass its client id with -ClientId.";
            else
                advice = "Check the tenant, client id and credential, and that the machine can reach the authority host.";

            // No answer, or a failing token service, is a connection problem however MSAL words it.
            if (ex is MsalServiceException service && service.StatusCode is 0 or >= 500)
                return ErrorCatalog.TokenEndpointUnreachable.FromService(null, FirstLine(text), ex, FirstLine(text), WhereTokensComeFrom(managedIdentity));
            var entry = managedIdentity ? ErrorCatalog.ManagedIdentityTokenFailed : ErrorCatalog.TokenRequestFailed;
            return entry.FromService(null, FirstLine(text), ex, advice);
        }

        /// <summary>MSAL lets network failures through as they are: no connection, or no answer in time.</summary>
        public static bool IsUnreachable(Exception ex, CancellationToken cancellationToken) =>
            ex is HttpRequestException || (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested);

        public static D365Exception Unreachable(Exception ex, bool managedIdentity) =>
            ErrorCatalog.TokenEndpointUnreachable.Wrap(ex, ex.InnerException?.Message ?? ex.Message, WhereTokensComeFrom(managedIdentity));

        private static string WhereTokensComeFrom(bool managedIdentity) => managedIdentity
            ? "Managed identity works only inside Azure (Automation, App Service, Functions, VMs) with an identity enabled."
            : "Check that the machine can reach the authority host (and -AuthorityHost for other clouds), and any proxy.";

        private static string FirstLine(string text)
        {
            var end = text.IndexOfAny(new[] { '\r', '\n' });
            return end < 0 ? text : text.Substring(0, end);
        }
    }
}

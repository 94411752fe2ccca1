using System.IO;
using System.Security;
using RecurringIntegrations.Core.Errors;

namespace RecurringIntegrations.Core.Authentication
{
    /// <summary>
    /// What a token provider hands back: the token and, when known, its expiry. Without an expiry the token's own
    /// <c>exp</c> claim is read; a token with neither is used until the environment answers 401.
    /// </summary>
    public sealed class ProvidedToken
    {
        public ProvidedToken(SecureString token, DateTimeOffset? expiresOn)
            : this(token is null ? string.Empty : CachingTokenProvider.Reveal(token), expiresOn)
        {
        }

        public ProvidedToken(string token, DateTimeOffset? expiresOn)
        {
            Token = token ?? string.Empty;
            ExpiresOn = expiresOn;
        }

        internal string Token { get; }
        public DateTimeOffset? ExpiresOn { get; }

        /// <summary>Never the token itself.</summary>
        public override string ToString() => ExpiresOn is { } expiresOn ? $"token expiring {expiresOn:u}" : "token";
    }

    /// <summary>
    /// A token source of the caller's (Connect-D365 -TokenProvider): called at connect, before expiry and after a 401,
    /// one call at a time, its token shared by every call of the session.
    /// </summary>
    public sealed class TokenProviderCredential : D365Credential
    {
        public TokenProviderCredential(Func<CancellationToken, Task<ProvidedToken?>> provider)
        {
            Provider = provider ?? throw new ArgumentNullException(nameof(provider));
        }

        internal Func<CancellationToken, Task<ProvidedToken?>> Provider { get; }
        public override string Kind => "TokenProvider";
    }

    /// <summary>
    /// An app that proves itself with a signed JWT it gets elsewhere (workload identity federation: GitHub Actions, Azure
    /// DevOps, AKS), sent to the token endpoint as a client assertion. The source is asked again whenever MSAL needs a
    /// token, so a rotated token file or a fresh OIDC token is always the one sent.
    /// </summary>
    public sealed class ClientAssertionCredential : D365Credential
    {
        public const string FederatedTokenFileVariable = "AZURE_FEDERATED_TOKEN_FILE";

        public ClientAssertionCredential(string? tenantId, string clientId, Func<CancellationToken, Task<string?>> assertion)
        {
            TenantId = ClientSecretCredential.OptionalTenant(tenantId);
            ClientId = ClientSecretCredential.RequireText(clientId, nameof(clientId));
            Assertion = assertion ?? throw new ArgumentNullException(nameof(assertion));
        }

        public string? TenantId { get; }
        public string ClientId { get; }
        /// <summary>The federated token file the assertion is read from; null when a string or script gives it.</summary>
        public string? FederatedTokenFile { get; private set; }
        internal Func<CancellationToken, Task<string?>> Assertion { get; }
        public override string Kind => "ClientAssertion";

        /// <summary>
        /// Reads the assertion from a file at every token request (AKS rotates it hourly). No path: the file named by
        /// AZURE_FEDERATED_TOKEN_FILE, which the AKS workload identity webhook and others set.
        /// </summary>
        public static ClientAssertionCredential FromFile(string? tenantId, string clientId, string? path)
        {
            if (string.IsNullOrWhiteSpace(path))
                path = System.Environment.GetEnvironmentVariable(FederatedTokenFileVariable);
            if (string.IsNullOrWhiteSpace(path))
                throw ErrorCatalog.FederatedTokenFileMissing.Create(FederatedTokenFileVariable);
            var fullPath = Path.GetFullPath(path!.Trim());
            if (!File.Exists(fullPath))
                throw ErrorCatalog.FederatedTokenFileNotFound.Create(fullPath);
            return new ClientAssertionCredential(tenantId, clientId, _ => Task.FromResult<string?>(ReadTokenFile(fullPath))) { FederatedTokenFile = fullPath };
        }

        private static string ReadTokenFile(string path)
        {
            try
            {
                return File.ReadAllText(path).Trim();
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
            {
                throw ErrorCatalog.FederatedTokenFileNotFound.Wrap(ex, path);
            }
        }
    }

    /// <summary>
    /// A person signing in with MSAL's device code flow (public client); the session then refreshes silently with the
    /// refresh token MSAL keeps in memory.
    /// </summary>
    public sealed class DeviceCodeCredential : D365Credential
    {
        /// <param name="showMessage">Shows the sign-in instructions (the code and the address to enter it at).</param>
        public DeviceCodeCredential(string? tenantId, string clientId, Action<string> showMessage)
        {
            TenantId = ClientSecretCredential.OptionalTenant(tenantId);
            ClientId = ClientSecretCredential.RequireText(clientId, nameof(clientId));
            ShowMessage = showMessage ?? throw new ArgumentNullException(nameof(showMessage));
        }

        public string? TenantId { get; }
        public string ClientId { get; }
        internal Action<string> ShowMessage { get; }
        public override string Kind => "DeviceCode";
    }
}

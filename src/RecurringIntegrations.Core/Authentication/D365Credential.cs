using System.Security;
using System.Security.Cryptography.X509Certificates;
using RecurringIntegrations.Core.Errors;

namespace RecurringIntegrations.Core.Authentication
{
    /// <summary>How a session proves who it is. Secrets stay in SecureString (or inside MSAL), never in plain strings.</summary>
    public abstract class D365Credential
    {
        private protected D365Credential() { }

        /// <summary>A short word for the session display: ClientSecret, Certificate, ClientAssertion, DeviceCode, ManagedIdentity, AccessToken, TokenProvider.</summary>
        public abstract string Kind { get; }
    }

    public sealed class ClientSecretCredential : D365Credential
    {
        /// <param name="tenantId">The tenant; null with an AD FS authority, which has none.</param>
        public ClientSecretCredential(string? tenantId, string clientId, SecureString clientSecret)
        {
            TenantId = OptionalTenant(tenantId);
            ClientId = RequireText(clientId, nameof(clientId));
            if (clientSecret is null || clientSecret.Length == 0)
                throw ErrorCatalog.ClientSecretMissing.Create();
            ClientSecret = clientSecret.Copy();
            ClientSecret.MakeReadOnly();
        }

        public string? TenantId { get; }
        public string ClientId { get; }
        internal SecureString ClientSecret { get; }
        public override string Kind => "ClientSecret";

        internal static string RequireText(string value, string name)
        {
            if (string.IsNullOrWhiteSpace(value))
                throw ErrorCatalog.CredentialArgumentMissing.Create(name);
            return value.Trim();
        }

        /// <summary>A tenant is checked when the authority is known: Entra ID needs one, AD FS has none.</summary>
        internal static string? OptionalTenant(string? tenantId) =>
            string.IsNullOrWhiteSpace(tenantId) ? null : tenantId!.Trim();
    }

    public sealed class ClientCertificateCredential : D365Credential
    {
        /// <param name="tenantId">The tenant; null with an AD FS authority, which has none.</param>
        public ClientCertificateCredential(string? tenantId, string clientId, X509Certificate2 certificate)
        {
            TenantId = ClientSecretCredential.OptionalTenant(tenantId);
            ClientId = ClientSecretCredential.RequireText(clientId, nameof(clientId));
            Certificate = certificate ?? throw new ArgumentNullException(nameof(certificate));
            if (!certificate.HasPrivateKey)
                throw ErrorCatalog.CertificateWithoutPrivateKey.Create(certificate.Thumbprint);
        }

        public string? TenantId { get; }
        public string ClientId { get; }
        public X509Certificate2 Certificate { get; }
        public override string Kind => "Certificate";

        /// <summary>Finds a certificate with a private key by thumbprint: CurrentUser\My first, then LocalMachine\My.</summary>
        public static X509Certificate2 FindByThumbprint(string thumbprint)
        {
            var wanted = (thumbprint ?? string.Empty).Replace(" ", string.Empty).Replace(":", string.Empty).Trim();
            if (wanted.Length == 0)
                throw ErrorCatalog.CertificateThumbprintMissing.Create();
            foreach (var location in new[] { StoreLocation.CurrentUser, StoreLocation.LocalMachine })
            {
                try
                {
                    using var store = new X509Store(StoreName.My, location);
                    store.Open(OpenFlags.ReadOnly | OpenFlags.OpenExistingOnly);
                    var found = store.Certificates.Find(X509FindType.FindByThumbprint, wanted, validOnly: false);
                    foreach (var certificate in found)
                        if (certificate.HasPrivateKey) return certificate;
                }
                catch (System.Security.Cryptography.CryptographicException)
                {
                    // A store that does not exist on this platform (LocalMachine on macOS) is simply not a match.
                }
            }
            throw ErrorCatalog.CertificateNotFound.Create(wanted);
        }
    }

    public sealed class ManagedIdentityCredential : D365Credential
    {
        /// <param name="userAssignedClientId">The client id of a user-assigned identity; null for the system-assigned one.</param>
        public ManagedIdentityCredential(string? userAssignedClientId = null)
        {
            UserAssignedClientId = string.IsNullOrWhiteSpace(userAssignedClientId) ? null : userAssignedClientId!.Trim();
        }

        public string? UserAssignedClientId { get; }
        public override string Kind => "ManagedIdentity";
    }

    public sealed class AccessTokenCredential : D365Credential
    {
        public AccessTokenCredential(SecureString accessToken)
        {
            if (accessToken is null || accessToken.Length == 0)
                throw ErrorCatalog.AccessTokenMissing.Create();
            AccessToken = accessToken.Copy();
            AccessToken.MakeReadOnly();
        }

        internal SecureString AccessToken { get; }
        public override string Kind => "AccessToken";
    }
}

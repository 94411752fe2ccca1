using System;
using System.Security;
using System.Security.Cryptography.X509Certificates;

namespace RecurringIntegrations.Core.Authentication
{
    /// <summary>How a session proves who it is. Secrets stay in SecureString (or inside MSAL), never in plain strings.</summary>
    public abstract class D365Credential
    {
        private protected D365Credential() { }

        /// <summary>A short word for the session display: ClientSecret, Certificate, ManagedIdentity, AccessToken.</summary>
        public abstract string Kind { get; }
    }

    public sealed class ClientSecretCredential : D365Credential
    {
        public ClientSecretCredential(string tenantId, string clientId, SecureString clientSecret)
        {
            TenantId = RequireText(tenantId, nameof(tenantId));
            ClientId = RequireText(clientId, nameof(clientId));
            if (clientSecret is null || clientSecret.Length == 0)
                throw new D365Exception("ClientSecretMissing", D365ErrorCategory.InvalidArgument,
                    "The client secret is empty.", "Pass the app registration's secret with -ClientSecret (a SecureString) or -Credential.");
            ClientSecret = clientSecret.Copy();
            ClientSecret.MakeReadOnly();
        }

        public string TenantId { get; }
        public string ClientId { get; }
        internal SecureString ClientSecret { get; }
        public override string Kind => "ClientSecret";

        internal static string RequireText(string value, string name)
        {
            if (string.IsNullOrWhiteSpace(value))
                throw new D365Exception("CredentialArgumentMissing", D365ErrorCategory.InvalidArgument,
                    $"The {name} is empty.", $"Give the {name} of the Microsoft Entra ID app registration.");
            return value.Trim();
        }
    }

    public sealed class ClientCertificateCredential : D365Credential
    {
        public ClientCertificateCredential(string tenantId, string clientId, X509Certificate2 certificate)
        {
            TenantId = ClientSecretCredential.RequireText(tenantId, nameof(tenantId));
            ClientId = ClientSecretCredential.RequireText(clientId, nameof(clientId));
            Certificate = certificate ?? throw new ArgumentNullException(nameof(certificate));
            if (!certificate.HasPrivateKey)
                throw new D365Exception("CertificateWithoutPrivateKey", D365ErrorCategory.InvalidArgument,
                    $"The certificate {certificate.Thumbprint} has no private key, so it cannot sign a client assertion.",
                    "Use the certificate as installed with its private key (a .pfx import), not the public .cer file.");
        }

        public string TenantId { get; }
        public string ClientId { get; }
        public X509Certificate2 Certificate { get; }
        public override string Kind => "Certificate";

        /// <summary>Finds a certificate with a private key by thumbprint: CurrentUser\My first, then LocalMachine\My.</summary>
        public static X509Certificate2 FindByThumbprint(string thumbprint)
        {
            var wanted = (thumbprint ?? string.Empty).Replace(" ", string.Empty).Replace(":", string.Empty).Trim();
            if (wanted.Length == 0)
                throw new D365Exception("CertificateThumbprintMissing", D365ErrorCategory.InvalidArgument,
                    "The certificate thumbprint is empty.", "Give the thumbprint of a certificate in the CurrentUser or LocalMachine 'My' store.");
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
            throw new D365Exception("CertificateNotFound", D365ErrorCategory.ObjectNotFound,
                $"No certificate with a private key and thumbprint {wanted} is in the CurrentUser\\My or LocalMachine\\My store.",
                "Import the certificate with its private key, or pass it with -Certificate.");
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
                throw new D365Exception("AccessTokenMissing", D365ErrorCategory.InvalidArgument,
                    "The access token is empty.", "Pass a bearer token for the environment with -AccessToken (a SecureString).");
            AccessToken = accessToken.Copy();
            AccessToken.MakeReadOnly();
        }

        internal SecureString AccessToken { get; }
        public override string Kind => "AccessToken";
    }
}

using System.Management.Automation;
using System.Security;
using System.Security.Cryptography.X509Certificates;
using RecurringIntegrations.Core.Authentication;
using RecurringIntegrations.Core.Errors;
using RecurringIntegrations.Core.Connection;

namespace RecurringIntegrations.PowerShell
{
    /// <summary>Connect-D365: acquires a token now (a wrong credential fails here), makes the session the default, and emits it.</summary>
    [Cmdlet(VerbsCommunications.Connect, "D365", DefaultParameterSetName = ClientSecretSet)]
    [OutputType(typeof(D365Session))]
    public sealed class ConnectD365Command : BridgedCmdlet
    {
        public const string ClientSecretSet = "ClientSecret";
        public const string CredentialSet = "Credential";
        public const string CertificateThumbprintSet = "CertificateThumbprint";
        public const string CertificateSet = "Certificate";
        public const string ManagedIdentitySet = "ManagedIdentity";
        public const string AccessTokenSet = "AccessToken";
        public const string TokenProviderSet = "TokenProvider";
        public const string ClientAssertionSet = "ClientAssertion";
        public const string FederatedTokenFileSet = "FederatedTokenFile";
        public const string DeviceCodeSet = "DeviceCode";

        /// <summary>The environment URL, for example https://contoso.operations.dynamics.com; on-premises with its path (https://ax.contoso.com/namespaces/AXSF).</summary>
        [Parameter(Mandatory = true, Position = 0)]
        [ValidateNotNullOrEmpty]
        public string Environment { get; set; } = string.Empty;

        /// <summary>
        /// The Microsoft Entra ID tenant (directory) id or domain of the app registration. Needed for Entra ID; an AD FS
        /// authority host (https://adfs.contoso.com/adfs) has no tenant.
        /// </summary>
        [Parameter(ParameterSetName = ClientSecretSet)]
        [Parameter(ParameterSetName = CredentialSet)]
        [Parameter(ParameterSetName = CertificateThumbprintSet)]
        [Parameter(ParameterSetName = CertificateSet)]
        [Parameter(ParameterSetName = ClientAssertionSet)]
        [Parameter(ParameterSetName = FederatedTokenFileSet)]
        [Parameter(ParameterSetName = DeviceCodeSet)]
        [ValidateNotNullOrEmpty]
        public string TenantId { get; set; } = string.Empty;

        /// <summary>The application (client) id of the app registration; with -ManagedIdentity, the client id of a user-assigned identity.</summary>
        [Parameter(Mandatory = true, ParameterSetName = ClientSecretSet)]
        [Parameter(Mandatory = true, ParameterSetName = CertificateThumbprintSet)]
        [Parameter(Mandatory = true, ParameterSetName = CertificateSet)]
        [Parameter(Mandatory = true, ParameterSetName = ClientAssertionSet)]
        [Parameter(Mandatory = true, ParameterSetName = FederatedTokenFileSet)]
        [Parameter(Mandatory = true, ParameterSetName = DeviceCodeSet)]
        [Parameter(ParameterSetName = ManagedIdentitySet)]
        [ValidateNotNullOrEmpty]
        public string? ClientId { get; set; }

        /// <summary>The client secret of the app registration.</summary>
        [Parameter(Mandatory = true, ParameterSetName = ClientSecretSet)]
        [ValidateNotNull]
        public SecureString? ClientSecret { get; set; }

        /// <summary>The app registration as a credential: user name = client id, password = client secret.</summary>
        [Parameter(Mandatory = true, ParameterSetName = CredentialSet)]
        [ValidateNotNull]
        [Credential]
        public PSCredential? Credential { get; set; }

        /// <summary>Thumbprint of a certificate with private key in the CurrentUser\My or LocalMachine\My store.</summary>
        [Parameter(Mandatory = true, ParameterSetName = CertificateThumbprintSet)]
        [ValidateNotNullOrEmpty]
        public string? CertificateThumbprint { get; set; }

        /// <summary>A certificate with its private key, registered on the app registration.</summary>
        [Parameter(Mandatory = true, ParameterSetName = CertificateSet)]
        [ValidateNotNull]
        public X509Certificate2? Certificate { get; set; }

        /// <summary>Sign in with the managed identity of the Azure resource running the command (Azure Automation, App Service, VM).</summary>
        [Parameter(Mandatory = true, ParameterSetName = ManagedIdentitySet)]
        public SwitchParameter ManagedIdentity { get; set; }

        /// <summary>A bearer token for the environment that the caller already holds. It is not refreshed: connect again when it expires.</summary>
        [Parameter(Mandatory = true, ParameterSetName = AccessTokenSet)]
        [ValidateNotNull]
        public SecureString? AccessToken { get; set; }

        /// <summary>
        /// A script block called whenever the session needs a token: at connect, before the token expires and after a 401.
        /// It returns the token (a string or SecureString, whose expiry is read from its exp claim) or an object with Token
        /// and ExpiresOn, such as Get-AzAccessToken's. It runs in this runspace, one call at a time for all parallel workers.
        /// </summary>
        [Parameter(Mandatory = true, ParameterSetName = TokenProviderSet)]
        [ValidateNotNull]
        public ScriptBlock? TokenProvider { get; set; }

        /// <summary>
        /// A client assertion (a signed JWT: a federated token from GitHub Actions, Azure DevOps or another workload
        /// identity issuer), or a script block that returns a fresh one whenever a token is requested.
        /// </summary>
        [Parameter(Mandatory = true, ParameterSetName = ClientAssertionSet)]
        [ValidateNotNull]
        public object? ClientAssertion { get; set; }

        /// <summary>
        /// The file holding a federated token (AKS workload identity and others write and rotate it), read at every token
        /// request. Empty: the file named by the AZURE_FEDERATED_TOKEN_FILE environment variable.
        /// </summary>
        [Parameter(Mandatory = true, ParameterSetName = FederatedTokenFileSet)]
        [AllowEmptyString]
        [AllowNull]
        public string? FederatedTokenFile { get; set; }

        /// <summary>
        /// Sign in as a person with a device code: the code and the address to enter it at are shown as a warning (so they
        /// reach a runbook's output too); the session then refreshes silently. The app must allow public client flows.
        /// </summary>
        [Parameter(Mandatory = true, ParameterSetName = DeviceCodeSet)]
        public SwitchParameter DeviceCode { get; set; }

        /// <summary>
        /// The sign-in host of the cloud (default https://login.microsoftonline.com; for example https://login.microsoftonline.us),
        /// or an AD FS farm for on-premises environments: https://adfs.contoso.com/adfs.
        /// </summary>
        [Parameter]
        [ValidateNotNull]
        public Uri? AuthorityHost { get; set; }

        /// <summary>Do not check the server's TLS certificate. For local test servers only; a warning is written every time.</summary>
        [Parameter]
        public SwitchParameter SkipCertificateCheck { get; set; }

        /// <summary>
        /// How long one call may be held back by throttling in all (the session's pauses and pace, and tries answered 429)
        /// before it fails with Throttled. Default 30 minutes. Throttling is flow control, not failure: within this budget a
        /// throttled call waits and goes again.
        /// </summary>
        [Parameter]
        public TimeSpan ThrottlingBudget { get; set; } = TimeSpan.FromMinutes(30);

        /// <summary>
        /// The proxy of every call (sign-in, environment, package storage), an http:// address such as
        /// http://proxy.contoso.com:8080. Without it: HTTPS_PROXY (or ALL_PROXY) and NO_PROXY from the environment, as
        /// PowerShell 7 reads them, in both editions; else the system's proxy settings.
        /// </summary>
        [Parameter]
        [ValidateNotNull]
        public Uri? Proxy { get; set; }

        /// <summary>User name and password for the proxy (the one -Proxy names, or else the one from the environment or the system).</summary>
        [Parameter]
        [ValidateNotNull]
        [Credential]
        public PSCredential? ProxyCredential { get; set; }

        /// <summary>Sign in to the proxy as the account running the command (Windows integrated authentication).</summary>
        [Parameter]
        public SwitchParameter ProxyUseDefaultCredentials { get; set; }

        protected override void End()
        {
            if (SkipCertificateCheck) WriteWarning(Messages.SkipCertificateCheckWarning);
            try
            {
                var options = new ConnectionOptions(Environment, CreateCredential())
                {
                    AuthorityHost = AuthorityHost ?? ConnectionOptions.PublicCloudAuthorityHost,
                    SkipCertificateCheck = SkipCertificateCheck,
                    Retry = { ThrottlingBudget = ThrottlingBudget },
                    Proxy = Proxy,
                    ProxyCredential = ProxyCredential?.GetNetworkCredential(),
                    ProxyUseDefaultCredentials = ProxyUseDefaultCredentials,
                };
                D365Session? session = null;
                Run(async token => session = await D365Session.ConnectAsync(options, token).ConfigureAwait(false));
                // The replaced default is not closed: a script may still hold it for -Session (two environments at once).
                D365Session.Default = session;
                WriteVerbose(string.Format(Messages.Connected, session!.Environment, session.AuthenticationKind, session.TokenExpiresOn, session.Proxy));
                WriteObject(session);
            }
            catch (D365Exception ex)
            {
                ThrowTerminatingError(ToErrorRecord(ex, Environment));
            }
        }

        private D365Credential CreateCredential()
        {
            switch (ParameterSetName)
            {
                case CredentialSet:
                    return new ClientSecretCredential(TenantId, Credential!.UserName, Credential.Password);
                case CertificateThumbprintSet:
                    return new ClientCertificateCredential(TenantId, ClientId!, ClientCertificateCredential.FindByThumbprint(CertificateThumbprint!));
                case CertificateSet:
                    return new ClientCertificateCredential(TenantId, ClientId!, Certificate!);
                case ManagedIdentitySet:
                    return new ManagedIdentityCredential(ClientId);
                case AccessTokenSet:
                    return new AccessTokenCredential(AccessToken!);
                case TokenProviderSet:
                    return ScriptCredentials.TokenProvider(TokenProvider!);
                case ClientAssertionSet:
                    return ScriptCredentials.ClientAssertion(TenantId, ClientId!, ClientAssertion!);
                case FederatedTokenFileSet:
                    return ClientAssertionCredential.FromFile(TenantId, ClientId!, FederatedTokenFile);
                case DeviceCodeSet:
                    return new DeviceCodeCredential(TenantId, ClientId!, message => Bridge.Post(() => WriteWarning(message)));
                default:
                    return new ClientSecretCredential(TenantId, ClientId!, ClientSecret!);
            }
        }
    }

    /// <summary>Get-D365Session: the default session, or nothing when there is none.</summary>
    [Cmdlet(VerbsCommon.Get, "D365Session")]
    [OutputType(typeof(D365Session))]
    public sealed class GetD365SessionCommand : BridgedCmdlet
    {
        protected override void End()
        {
            var session = D365Session.Default;
            if (session != null) WriteObject(session);
        }
    }

    /// <summary>Disconnect-D365: closes the default session's connections, drops its token cache, and forgets it.</summary>
    [Cmdlet(VerbsCommunications.Disconnect, "D365", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
    [OutputType(typeof(void))]
    public sealed class DisconnectD365Command : BridgedCmdlet
    {
        protected override void End()
        {
            var session = D365Session.Default;
            if (session is null)
            {
                WriteVerbose(Messages.NoDefaultSession);
                return;
            }
            if (!ShouldProcess(session.Environment, Messages.Disconnecting)) return;
            D365Session.Default = null;
            session.Dispose();
        }
    }
}

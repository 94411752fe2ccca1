using System;
using System.Linq;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Threading;
using System.Threading.Tasks;
using RecurringIntegrations.Core.Authentication;
using RecurringIntegrations.Emulator;
using RecurringIntegrations.Tests.Support;
using Xunit;
using RecurringIntegrations.Core.Errors;
using RecurringIntegrations.Core.Connection;
using RecurringIntegrations.Core.Api;

namespace RecurringIntegrations.Tests.Core;

public class AuthenticationTests
{
    [Fact]
    public async Task Client_secret_connects_over_https_and_one_token_serves_many_calls()
    {
        await using var env = await Emulated.StartAsync();
        Assert.Equal("ClientSecret", env.Session.AuthenticationKind);
        Assert.Equal(env.Emulator.Environment, env.Session.Environment);

        for (var i = 0; i < 20; i++)
            Assert.Null(await env.Client.DequeueAsync(WellKnown.ExportActivity, CancellationToken.None));

        Assert.Equal(1, env.Session.TokenRequests);
        Assert.Equal(1, env.Emulator.State.TokenRequests);
        // Only the token endpoint is needed: a stand-in or sovereign cloud without discovery documents works too.
        Assert.Equal(new[] { $"/{env.Emulator.Options.TenantId}/oauth2/v2.0/token" },
            env.Emulator.State.Requests.Where(r => !r.PathAndQuery.StartsWith("/api/")).Select(r => r.PathAndQuery.Split('?')[0]).Distinct());
        Assert.NotNull(env.Session.TokenExpiresOn);
    }

    [Fact]
    public async Task Certificate_credential_signs_a_client_assertion_the_token_endpoint_accepts()
    {
        using var certificate = CreateClientCertificate();
        await using var emulator = await D365Emulator.StartAsync(Configure(o => o.ClientCertificates.Add(X509CertificateLoader.LoadCertificate(certificate.Export(X509ContentType.Cert)))));
        var credential = new ClientCertificateCredential(emulator.Options.TenantId, emulator.Options.ClientId, certificate);
        using var session = await D365Session.ConnectAsync(Emulated.Options(emulator, credential), CancellationToken.None);

        Assert.Equal("Certificate", session.AuthenticationKind);
        Assert.Equal(certificate.Thumbprint, session.CertificateThumbprint);
        Assert.Null(await new D365Client(session).DequeueAsync(WellKnown.ExportActivity, CancellationToken.None));
    }

    [Fact]
    public async Task Unregistered_certificate_fails_at_connect_with_advice()
    {
        using var certificate = CreateClientCertificate();
        await using var emulator = await D365Emulator.StartAsync();
        var credential = new ClientCertificateCredential(emulator.Options.TenantId, emulator.Options.ClientId, certificate);

        var error = await Assert.ThrowsAsync<D365Exception>(() => D365Session.ConnectAsync(Emulated.Options(emulator, credential), CancellationToken.None));

        Assert.Equal("TokenRequestFailed", error.ErrorId);
        Assert.Equal(D365ErrorCategory.AuthenticationError, error.Category);
        Assert.Contains("AADSTS700027", error.Message);
        Assert.Contains("certificate is not registered", error.Message);
    }

    [Fact]
    public async Task Wrong_secret_fails_at_connect_and_the_error_never_shows_the_secret()
    {
        await using var emulator = await D365Emulator.StartAsync();
        var credential = new ClientSecretCredential(emulator.Options.TenantId, emulator.Options.ClientId, Emulated.Secure("wrong-secret-value-123"));

        var error = await Assert.ThrowsAsync<D365Exception>(() => D365Session.ConnectAsync(Emulated.Options(emulator, credential), CancellationToken.None));

        Assert.Equal("TokenRequestFailed", error.ErrorId);
        Assert.Contains("AADSTS7000215", error.Message);
        Assert.Contains("secret is wrong or expired", error.Message);
        Assert.DoesNotContain("wrong-secret-value-123", error.ToString());
    }

    [Fact]
    public async Task Wrong_tenant_fails_at_connect_with_advice()
    {
        await using var emulator = await D365Emulator.StartAsync();
        var credential = new ClientSecretCredential("no-such-tenant", emulator.Options.ClientId, Emulated.Secure(emulator.Options.ClientSecret));

        var error = await Assert.ThrowsAsync<D365Exception>(() => D365Session.ConnectAsync(Emulated.Options(emulator, credential), CancellationToken.None));

        Assert.Equal("TokenRequestFailed", error.ErrorId);
        Assert.Contains("tenant was not found", error.Message);
    }

    [Fact]
    public async Task Caller_supplied_token_is_used_as_is_and_an_expired_one_fails_clearly()
    {
        await using var emulator = await D365Emulator.StartAsync();
        var good = new AccessTokenCredential(Emulated.Secure(emulator.IssueToken(emulator.Environment)));
        using (var session = await D365Session.ConnectAsync(Emulated.Options(emulator, good), CancellationToken.None))
        {
            Assert.Null(await new D365Client(session).DequeueAsync(WellKnown.ExportActivity, CancellationToken.None));
            Assert.Equal(0, emulator.State.TokenRequests);
        }

        var expired = new AccessTokenCredential(Emulated.Secure(emulator.IssueToken(emulator.Environment, TimeSpan.FromMinutes(-5))));
        var error = await Assert.ThrowsAsync<D365Exception>(() => D365Session.ConnectAsync(Emulated.Options(emulator, expired), CancellationToken.None));
        Assert.Equal("AccessTokenExpired", error.ErrorId);
        Assert.Equal(D365ErrorCategory.AuthenticationError, error.Category);
    }

    [Fact]
    public async Task Token_for_another_audience_gets_401_with_the_audience_hint()
    {
        await using var emulator = await D365Emulator.StartAsync();
        var wrongAudience = new AccessTokenCredential(Emulated.Secure(emulator.IssueToken(emulator.Environment + "/")));
        using var session = await D365Session.ConnectAsync(Emulated.Options(emulator, wrongAudience), CancellationToken.None);

        var error = await Assert.ThrowsAsync<D365Exception>(() => new D365Client(session).DequeueAsync(WellKnown.ExportActivity, CancellationToken.None));

        Assert.Equal("Unauthorized", error.ErrorId);
        Assert.Equal(D365ErrorCategory.AuthenticationError, error.Category);
        Assert.Contains($"audience is exactly '{emulator.Environment}'", error.Message);
        Assert.Contains("Microsoft Entra ID applications", error.Message);
    }

    [Fact]
    public async Task Expired_token_mid_run_is_renewed_without_failing_a_call()
    {
        await using var env = await Emulated.StartAsync(o => o.TokenLifetime = TimeSpan.FromSeconds(2));
        // Tokens this short are always inside the refresh margin, so each call asks MSAL, whose cache renews them on expiry.
        Assert.Null(await env.Client.DequeueAsync(WellKnown.ExportActivity, CancellationToken.None));
        await Task.Delay(TimeSpan.FromSeconds(2.5));
        Assert.Null(await env.Client.DequeueAsync(WellKnown.ExportActivity, CancellationToken.None));
        Assert.True(env.Emulator.State.TokenRequests >= 2);
        Assert.DoesNotContain(env.Emulator.State.Requests, r => r.StatusCode == 401);
    }

    [Fact]
    public void Http_environment_is_refused_unless_loopback()
    {
        var error = Assert.Throws<D365Exception>(() => EnvironmentAddress.Normalize("http://contoso.operations.dynamics.com"));
        Assert.Equal("EnvironmentNotHttps", error.ErrorId);
        Assert.Equal("http://127.0.0.1:8080/", EnvironmentAddress.Normalize("http://127.0.0.1:8080").ToString());
        Assert.Equal("http://localhost:8080/", EnvironmentAddress.Normalize("http://LOCALHOST:8080/").ToString());
    }

    [Theory]
    [InlineData("https://Contoso.Operations.Dynamics.com/", "https://contoso.operations.dynamics.com")]
    [InlineData("contoso.operations.dynamics.com", "https://contoso.operations.dynamics.com")]
    [InlineData("https://contoso.operations.dynamics.com/?cmp=USMF&mi=DefaultDashboard", "https://contoso.operations.dynamics.com")]
    [InlineData("https://contoso.sandbox.operations.dynamics.com:443", "https://contoso.sandbox.operations.dynamics.com")]
    public void Environment_is_normalised_to_the_token_audience(string given, string audience) =>
        Assert.Equal(audience, EnvironmentAddress.ToAudience(EnvironmentAddress.Normalize(given)));

    [Fact]
    public void Jwt_expiry_is_read_from_a_caller_supplied_token()
    {
        var payload = Convert.ToBase64String("{\"exp\":1893456000}"u8.ToArray()).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(1893456000), StaticTokenProvider.ReadJwtExpiry($"e30.{payload}.sig"));
        Assert.Null(StaticTokenProvider.ReadJwtExpiry("opaque-token"));
    }

    internal static X509Certificate2 CreateClientCertificate()
    {
        using var rsa = RSA.Create(2048);
        var request = new CertificateRequest("CN=RecurringIntegrations test client", rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        using var created = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        return X509CertificateLoader.LoadPkcs12(created.Export(X509ContentType.Pfx), null, X509KeyStorageFlags.Exportable);
    }

    private static EmulatorOptions Configure(Action<EmulatorOptions> change)
    {
        var options = new EmulatorOptions();
        change(options);
        return options;
    }
}

public class AuthorityHostTests
{
    [Theory]
    [InlineData("https://login.microsoftonline.com", true)]
    [InlineData("https://LOGIN.MICROSOFTONLINE.US/", true)]
    [InlineData("https://login.chinacloudapi.cn", true)]
    [InlineData("https://127.0.0.1:8443", false)]
    [InlineData("https://login.contoso-standin.test", false)]
    public void Only_Microsoft_sign_in_hosts_are_validated_through_instance_discovery(string host, bool validated) =>
        Assert.Equal(validated, Authorities.IsMicrosoftCloud(new Uri(host)));
}

public class PlainHttpEmulatorTests
{
    [Fact]
    public async Task A_plain_http_emulator_on_loopback_works_for_token_and_calls()
    {
        await using var emulator = await D365Emulator.StartAsync(new EmulatorOptions { UseHttps = false });
        Assert.StartsWith("http://127.0.0.1:", emulator.Environment);

        using var session = await D365Session.ConnectAsync(Emulated.Options(emulator), CancellationToken.None);

        Assert.Null(await new D365Client(session).DequeueAsync(WellKnown.ExportActivity, CancellationToken.None));
        Assert.Equal(1, emulator.State.TokenRequests);
    }

    [Fact]
    public async Task A_plain_http_authority_off_loopback_is_refused()
    {
        await using var emulator = await D365Emulator.StartAsync();
        var options = Emulated.Options(emulator);
        options.AuthorityHost = new Uri("http://login.example.com");

        var error = await Assert.ThrowsAsync<D365Exception>(() => D365Session.ConnectAsync(options, CancellationToken.None));

        Assert.Equal("AuthorityHostInvalid", error.ErrorId);
    }
}

using System;
using System.Buffers.Text;
using System.IO;
using System.Linq;
using System.Net.Http;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json.Nodes;
using System.Threading;
using System.Threading.Tasks;
using RecurringIntegrations.Core;
using RecurringIntegrations.Core.Authentication;
using RecurringIntegrations.Core.Errors;
using RecurringIntegrations.Emulator;
using RecurringIntegrations.Tests.Support;
using Xunit;
using RecurringIntegrations.Core.Api;
using RecurringIntegrations.Core.Connection;

namespace RecurringIntegrations.Tests.Core;

/// <summary>The ways in beyond secrets and certificates: a caller's token provider, client assertions, device code, AD FS.</summary>
public class SignInTests
{
    private static readonly CancellationToken None = CancellationToken.None;

    [Fact]
    public async Task Token_provider_is_asked_again_before_expiry_and_after_a_401_and_no_401_reaches_the_caller()
    {
        await using var emulator = await D365Emulator.StartAsync(new EmulatorOptions { ProcessingDelay = TimeSpan.FromMilliseconds(50) });
        var calls = 0;
        var credential = new TokenProviderCredential(_ =>
        {
            Interlocked.Increment(ref calls);
            // Expiry comes from the token's own exp claim.
            return Task.FromResult<ProvidedToken?>(new ProvidedToken(emulator.IssueToken(emulator.Environment, TimeSpan.FromHours(1)), null));
        });
        using var session = await D365Session.ConnectAsync(Emulated.Options(emulator, credential), None);
        Assert.Equal("TokenProvider", session.AuthenticationKind);
        Assert.Equal(1, calls);
        Assert.NotNull(session.TokenExpiresOn);

        var tokens = (CachingTokenProvider)session.Tokens;
        var now = DateTimeOffset.UtcNow;
        tokens.Clock = () => now;
        var client = new D365Client(session);
        var file = Path.Combine(Path.GetTempPath(), $"ri-provider-{Guid.NewGuid():N}.xml");
        File.WriteAllText(file, "<Document/>");
        try
        {
            var messageId = await client.EnqueueAsync(WellKnown.ImportActivity, file, "Customer groups", "USMF", null, None);
            Assert.Equal(1, calls);

            // 58 minutes on, the token is inside the refresh margin: the next call asks the provider first.
            now = now.AddMinutes(58);
            Assert.Equal("Processed", await ConnectorTests.WaitForTerminalAsync(client, messageId));
            Assert.Equal(2, calls);

            // The service refuses a token (revoked, rotated): the provider is asked once more and the call goes through.
            emulator.Faults.Add(new FaultRule { PathContains = "/api/connector/dequeue", Kind = FaultKind.Status, StatusCode = 401 });
            var correlationId = emulator.AddExportMessage(WellKnown.ExportActivity, "export.xml", Encoding.UTF8.GetBytes("<Export/>"));
            var message = await client.DequeueAsync(WellKnown.ExportActivity, None);
            Assert.Equal(3, calls);
            Assert.Equal(correlationId, message!.CorrelationId);
            var saved = await client.DownloadAsync(message, Path.Combine(Path.GetTempPath(), $"ri-provider-out-{Guid.NewGuid():N}"), false, None);
            await client.AcknowledgeAsync(WellKnown.ExportActivity, message.RawJson, None);
            Assert.Null(await client.DequeueAsync(WellKnown.ExportActivity, None));
            Assert.Equal(3, calls);
            Directory.Delete(Path.GetDirectoryName(saved.Path)!, true);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task Parallel_calls_needing_a_new_token_share_one_provider_call()
    {
        await using var emulator = await D365Emulator.StartAsync();
        var calls = 0;
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var credential = new TokenProviderCredential(async _ =>
        {
            if (Interlocked.Increment(ref calls) > 1) await release.Task;
            return new ProvidedToken(Emulated.Secure(emulator.IssueToken(emulator.Environment)), DateTimeOffset.UtcNow.AddHours(1));
        });
        using var session = await D365Session.ConnectAsync(Emulated.Options(emulator, credential), None);
        var tokens = (CachingTokenProvider)session.Tokens;
        tokens.Clock = () => DateTimeOffset.UtcNow.AddMinutes(57);
        var client = new D365Client(session);

        var dequeues = Enumerable.Range(0, 8).Select(_ => client.DequeueAsync(WellKnown.ExportActivity, None)).ToList();
        release.SetResult();
        await Task.WhenAll(dequeues);

        Assert.Equal(2, calls);
    }

    [Fact]
    public async Task Token_provider_that_throws_or_returns_nothing_fails_at_connect_with_its_own_error()
    {
        await using var emulator = await D365Emulator.StartAsync();
        var throws = new TokenProviderCredential(_ => throw new InvalidOperationException("Run Connect-AzAccount first."));
        var empty = new TokenProviderCredential(_ => Task.FromResult<ProvidedToken?>(null));
        var expired = new TokenProviderCredential(_ => Task.FromResult<ProvidedToken?>(new ProvidedToken(emulator.IssueToken(emulator.Environment, TimeSpan.FromMinutes(-1)), null)));

        var failed = await Assert.ThrowsAsync<D365Exception>(() => D365Session.ConnectAsync(Emulated.Options(emulator, throws), None));
        var nothing = await Assert.ThrowsAsync<D365Exception>(() => D365Session.ConnectAsync(Emulated.Options(emulator, empty), None));
        var stale = await Assert.ThrowsAsync<D365Exception>(() => D365Session.ConnectAsync(Emulated.Options(emulator, expired), None));

        Assert.Equal("TokenProviderFailed", failed.ErrorId);
        Assert.Contains("Run Connect-AzAccount first.", failed.Message);
        Assert.Equal("TokenProviderNoToken", nothing.ErrorId);
        Assert.Equal("TokenProviderTokenExpired", stale.ErrorId);
    }

    [Fact]
    public async Task Token_in_hand_serves_until_it_expires_while_the_provider_cannot_run()
    {
        await using var emulator = await D365Emulator.StartAsync();
        var calls = 0;
        var credential = new TokenProviderCredential(_ => ++calls == 1
            ? Task.FromResult<ProvidedToken?>(new ProvidedToken(emulator.IssueToken(emulator.Environment, TimeSpan.FromHours(1)), null))
            : throw ErrorCatalog.TokenProviderUnavailable.Create("the runspace of Connect-D365 is busy running another command."));
        using var session = await D365Session.ConnectAsync(Emulated.Options(emulator, credential), None);
        var tokens = (CachingTokenProvider)session.Tokens;
        var client = new D365Client(session);

        // Inside the refresh margin, not expired: the renewal fails quietly and the token in hand is used.
        tokens.Clock = () => DateTimeOffset.UtcNow.AddMinutes(57);
        Assert.Null(await client.DequeueAsync(WellKnown.ExportActivity, None));
        Assert.Equal(2, calls);

        // Past its expiry the failure is the caller's to see.
        tokens.Clock = () => DateTimeOffset.UtcNow.AddMinutes(61);
        var error = await Assert.ThrowsAsync<D365Exception>(() => client.DequeueAsync(WellKnown.ExportActivity, None));
        Assert.Equal("TokenProviderUnavailable", error.ErrorId);
    }

    [Fact]
    public async Task Client_assertion_from_a_federated_token_file_signs_in_and_the_file_is_read_at_each_request()
    {
        using var signer = AuthenticationTests.CreateClientCertificate();
        var options = new EmulatorOptions { ProcessingDelay = TimeSpan.FromMilliseconds(50) };
        options.ClientCertificates.Add(X509CertificateLoader.LoadCertificate(signer.Export(X509ContentType.Cert)));
        await using var emulator = await D365Emulator.StartAsync(options);
        var file = Path.Combine(Path.GetTempPath(), $"ri-federated-{Guid.NewGuid():N}.jwt");
        File.WriteAllText(file, SignAssertion(signer, emulator.Options.ClientId, emulator.TokenEndpoint.ToString()) + "\n");
        try
        {
            var credential = ClientAssertionCredential.FromFile(emulator.Options.TenantId, emulator.Options.ClientId, file);
            using var session = await D365Session.ConnectAsync(Emulated.Options(emulator, credential), None);

            Assert.Equal("ClientAssertion", session.AuthenticationKind);
            Assert.Equal(Path.GetFullPath(file), credential.FederatedTokenFile);
            await RoundTripAsync(emulator, new D365Client(session));

            // A file holding no token is named as such when the next token is requested.
            File.WriteAllText(file, "");
            var error = await Assert.ThrowsAsync<D365Exception>(() => D365Session.ConnectAsync(Emulated.Options(emulator, credential), None));
            Assert.Equal("ClientAssertionEmpty", error.ErrorId);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task Client_assertion_signed_by_an_unknown_key_is_refused_and_a_missing_file_is_named()
    {
        using var stranger = AuthenticationTests.CreateClientCertificate();
        await using var emulator = await D365Emulator.StartAsync();
        var assertion = SignAssertion(stranger, emulator.Options.ClientId, emulator.TokenEndpoint.ToString());
        var credential = new ClientAssertionCredential(emulator.Options.TenantId, emulator.Options.ClientId, _ => Task.FromResult<string?>(assertion));

        var refused = await Assert.ThrowsAsync<D365Exception>(() => D365Session.ConnectAsync(Emulated.Options(emulator, credential), None));
        var missing = Assert.Throws<D365Exception>(() => ClientAssertionCredential.FromFile("t", "c", Path.Combine(Path.GetTempPath(), "no-such-token-file")));

        Assert.Equal("TokenRequestFailed", refused.ErrorId);
        Assert.Contains("AADSTS700027", refused.Message);
        Assert.DoesNotContain(assertion.Split('.')[2], refused.ToString());
        Assert.Equal("FederatedTokenFileNotFound", missing.ErrorId);
    }

    [Fact]
    public async Task Device_code_signs_in_once_approved_and_refreshes_silently_after()
    {
        await using var emulator = await D365Emulator.StartAsync(new EmulatorOptions { ProcessingDelay = TimeSpan.FromMilliseconds(50) });
        using var admin = new HttpClient(new HttpClientHandler { ServerCertificateCustomValidationCallback = (_, _, _, _) => true });
        var messages = new System.Collections.Concurrent.ConcurrentQueue<string>();
        // The person reads the message and enters the code: here the emulator's approve endpoint.
        var credential = new DeviceCodeCredential(emulator.Options.TenantId, emulator.Options.ClientId, message =>
        {
            messages.Enqueue(message);
            _ = admin.PostAsync(new Uri(emulator.BaseUri, "emulator/devicecode/approve"), null);
        });
        using var session = await D365Session.ConnectAsync(Emulated.Options(emulator, credential), None);

        Assert.Equal("DeviceCode", session.AuthenticationKind);
        var message = Assert.Single(messages);
        Assert.Contains("enter the code", message);

        // A refused token makes MSAL refresh silently with its refresh token: no second prompt.
        emulator.Faults.Add(new FaultRule { PathContains = "/api/connector/enqueue", Kind = FaultKind.Status, StatusCode = 401 });
        await RoundTripAsync(emulator, new D365Client(session));
        Assert.Single(messages);
        Assert.Equal(2, emulator.State.TokenRequests);
    }

    [Fact]
    public async Task Device_code_is_refused_with_advice_when_the_app_does_not_allow_public_client_flows()
    {
        await using var emulator = await D365Emulator.StartAsync(new EmulatorOptions { AllowPublicClientFlows = false });
        var credential = new DeviceCodeCredential(emulator.Options.TenantId, emulator.Options.ClientId, _ => { });

        var error = await Assert.ThrowsAsync<D365Exception>(() => D365Session.ConnectAsync(Emulated.Options(emulator, credential), None));

        Assert.Equal("PublicClientFlowsDisabled", error.ErrorId);
        Assert.Equal(D365ErrorCategory.AuthenticationError, error.Category);
        Assert.Contains("Allow public client flows", error.RecommendedAction);
    }

    [Fact]
    public async Task Adfs_authority_signs_in_with_a_secret_and_with_a_certificate_at_the_adfs_token_endpoint()
    {
        using var certificate = AuthenticationTests.CreateClientCertificate();
        var options = new EmulatorOptions { ProcessingDelay = TimeSpan.FromMilliseconds(50) };
        options.ClientCertificates.Add(X509CertificateLoader.LoadCertificate(certificate.Export(X509ContentType.Cert)));
        await using var emulator = await D365Emulator.StartAsync(options);
        var adfs = new Uri(emulator.Environment + "/adfs");

        // AD FS has no tenant: none is given.
        var secret = Emulated.Options(emulator, new ClientSecretCredential(null, emulator.Options.ClientId, Emulated.Secure(emulator.Options.ClientSecret)));
        secret.AuthorityHost = adfs;
        using (var session = await D365Session.ConnectAsync(secret, None))
        {
            Assert.Equal(adfs.ToString(), session.AuthorityHost);
            await RoundTripAsync(emulator, new D365Client(session));
        }
        var withCertificate = Emulated.Options(emulator, new ClientCertificateCredential(null, emulator.Options.ClientId, certificate));
        withCertificate.AuthorityHost = adfs;
        using (var session = await D365Session.ConnectAsync(withCertificate, None))
            Assert.Null(await new D365Client(session).DequeueAsync(WellKnown.ExportActivity, None));

        var tokenCalls = emulator.State.Requests.Where(r => !r.PathAndQuery.StartsWith("/api/") && !r.PathAndQuery.StartsWith("/data/")).Select(r => r.PathAndQuery.Split('?')[0]).Distinct();
        Assert.Equal(new[] { "/adfs/oauth2/token" }, tokenCalls.ToArray());
        Assert.Equal(2, emulator.State.TokenRequests);
    }

    [Fact]
    public async Task Entra_authority_without_a_tenant_is_refused_before_any_request()
    {
        await using var emulator = await D365Emulator.StartAsync();
        var options = Emulated.Options(emulator, new ClientSecretCredential(null, emulator.Options.ClientId, Emulated.Secure("x")));

        var error = await Assert.ThrowsAsync<D365Exception>(() => D365Session.ConnectAsync(options, None));

        Assert.Equal("TenantIdMissing", error.ErrorId);
        Assert.Empty(emulator.State.Requests);
    }

    /// <summary>Enqueue, status to Processed, dequeue, download and ack, each through the session's token.</summary>
    private static async Task RoundTripAsync(D365Emulator emulator, D365Client client)
    {
        var folder = Path.Combine(Path.GetTempPath(), "ri-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        try
        {
            var file = Path.Combine(folder, "in.xml");
            File.WriteAllText(file, "<Document/>");
            var messageId = await client.EnqueueAsync(WellKnown.ImportActivity, file, "Customer groups", "USMF", null, None);
            Assert.Equal("Processed", await ConnectorTests.WaitForTerminalAsync(client, messageId));
            emulator.AddExportMessage(WellKnown.ExportActivity, "export.xml", Encoding.UTF8.GetBytes("<Export/>"));
            var message = await client.DequeueAsync(WellKnown.ExportActivity, None);
            var saved = await client.DownloadAsync(message!, Path.Combine(folder, "out"), false, None);
            Assert.Equal("<Export/>", File.ReadAllText(saved.Path));
            await client.AcknowledgeAsync(WellKnown.ExportActivity, message!.RawJson, None);
            Assert.Null(await client.DequeueAsync(WellKnown.ExportActivity, None));
        }
        finally
        {
            Directory.Delete(folder, true);
        }
    }

    /// <summary>A client assertion as a workload identity issuer would hand it over: an RS256 JWT for the token endpoint.</summary>
    internal static string SignAssertion(X509Certificate2 signer, string clientId, string audience)
    {
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var header = new JsonObject { ["alg"] = "RS256", ["typ"] = "JWT", ["x5t"] = Base64Url.EncodeToString(signer.GetCertHash()) };
        var claims = new JsonObject
        {
            ["aud"] = audience, ["iss"] = clientId, ["sub"] = clientId, ["jti"] = Guid.NewGuid().ToString(),
            ["nbf"] = now, ["exp"] = now + 600,
        };
        var input = Encode(header) + "." + Encode(claims);
        using var key = signer.GetRSAPrivateKey()!;
        return input + "." + Base64Url.EncodeToString(key.SignData(Encoding.ASCII.GetBytes(input), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1));
    }

    private static string Encode(JsonObject json) => Base64Url.EncodeToString(Encoding.UTF8.GetBytes(json.ToJsonString()));
}

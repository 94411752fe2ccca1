using System;
using System.Buffers.Text;
using System.Collections.Generic;
using System.Net;
using System.Net.Http;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using System.Threading.Tasks;
using RecurringIntegrations.Emulator;
using Xunit;

namespace RecurringIntegrations.Tests.Emulator;

public sealed class TokenEndpointTests
{
    private const string AssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

    [Fact]
    public async Task Client_secret_grant_answers_like_entra_and_the_token_opens_the_api()
    {
        await using var harness = await EmulatorHarness.StartAsync();
        var options = harness.Emulator.Options;

        var (status, body) = await RequestTokenAsync(harness, options.TenantId, SecretForm(harness));

        Assert.Equal(200, status);
        var root = body.RootElement;
        Assert.Equal(["token_type", "expires_in", "ext_expires_in", "access_token"], PropertyNames(root));
        Assert.Equal("Bearer", root.GetProperty("token_type").GetString());
        Assert.Equal(3599, root.GetProperty("expires_in").GetInt32());
        Assert.Equal(3599, root.GetProperty("ext_expires_in").GetInt32());
        var token = root.GetProperty("access_token").GetString()!;
        var claims = JsonDocument.Parse(Base64Url.DecodeFromChars(token.Split('.')[1])).RootElement;
        Assert.Equal(harness.Emulator.Environment, claims.GetProperty("aud").GetString());
        Assert.Equal(options.TenantId, claims.GetProperty("tid").GetString());
        Assert.Equal(options.ClientId, claims.GetProperty("appid").GetString());
        Assert.Equal(1, harness.Emulator.State.TokenRequests);

        using var client = harness.CreateClient(token);
        using var dequeue = await client.GetAsync($"api/connector/dequeue/{WellKnown.ExportActivity}");
        Assert.Equal(HttpStatusCode.NoContent, dequeue.StatusCode);
    }

    [Fact]
    public async Task Unknown_tenant_is_400_invalid_request_AADSTS90002()
    {
        await using var harness = await EmulatorHarness.StartAsync();

        var (status, body) = await RequestTokenAsync(harness, "11111111-1111-1111-1111-111111111111", SecretForm(harness));

        AssertEntraError(400, "invalid_request", 90002, status, body);
    }

    [Fact]
    public async Task Unknown_client_is_400_unauthorized_client_AADSTS700016()
    {
        await using var harness = await EmulatorHarness.StartAsync();
        var form = SecretForm(harness);
        form["client_id"] = Guid.NewGuid().ToString();

        var (status, body) = await RequestTokenAsync(harness, harness.Emulator.Options.TenantId, form);

        AssertEntraError(400, "unauthorized_client", 700016, status, body);
    }

    [Fact]
    public async Task Wrong_secret_is_401_invalid_client_AADSTS7000215()
    {
        await using var harness = await EmulatorHarness.StartAsync();
        var form = SecretForm(harness);
        form["client_secret"] = "wrong";

        var (status, body) = await RequestTokenAsync(harness, harness.Emulator.Options.TenantId, form);

        AssertEntraError(401, "invalid_client", 7000215, status, body);
        Assert.Equal(0, harness.Emulator.State.TokenRequests);
    }

    [Fact]
    public async Task A_scope_without_the_default_suffix_is_400_invalid_scope()
    {
        await using var harness = await EmulatorHarness.StartAsync();
        var form = SecretForm(harness);
        form["scope"] = harness.Emulator.Environment;

        var (status, body) = await RequestTokenAsync(harness, harness.Emulator.Options.TenantId, form);

        AssertEntraError(400, "invalid_scope", 1002012, status, body);
    }

    [Theory]
    [InlineData("RS256", false)]
    [InlineData("PS256", true)] // MSAL 4.92 signs with PS256 and writes nbf and exp as strings
    public async Task A_certificate_assertion_signed_by_a_registered_certificate_is_accepted(string algorithm, bool timesAsStrings)
    {
        using var certificate = CreateClientCertificate();
        await using var harness = await EmulatorHarness.StartAsync(o => o.ClientCertificates.Add(PublicOnly(certificate)));
        var assertion = CreateAssertion(certificate, algorithm, harness.Emulator.Options.ClientId, harness.Emulator.TokenEndpoint.ToString(), TimeSpan.FromMinutes(10), timesAsStrings);

        var (status, body) = await RequestTokenAsync(harness, harness.Emulator.Options.TenantId, AssertionForm(harness, assertion));

        Assert.Equal(200, status);
        Assert.Equal("Bearer", body.RootElement.GetProperty("token_type").GetString());
    }

    public static TheoryData<string> BadAssertions => new() { "unregistered certificate", "wrong audience", "expired", "wrong issuer", "not a jwt" };

    [Theory]
    [MemberData(nameof(BadAssertions))]
    public async Task A_bad_certificate_assertion_is_401_invalid_client_AADSTS700027(string flaw)
    {
        using var registered = CreateClientCertificate();
        using var stranger = CreateClientCertificate();
        await using var harness = await EmulatorHarness.StartAsync(o => o.ClientCertificates.Add(PublicOnly(registered)));
        var clientId = harness.Emulator.Options.ClientId;
        var endpoint = harness.Emulator.TokenEndpoint.ToString();
        var assertion = flaw switch
        {
            "unregistered certificate" => CreateAssertion(stranger, "RS256", clientId, endpoint, TimeSpan.FromMinutes(10)),
            "wrong audience" => CreateAssertion(registered, "RS256", clientId, "https://login.microsoftonline.com/x/oauth2/v2.0/token", TimeSpan.FromMinutes(10)),
            "expired" => CreateAssertion(registered, "RS256", clientId, endpoint, TimeSpan.FromMinutes(-1)),
            "wrong issuer" => CreateAssertion(registered, "RS256", Guid.NewGuid().ToString(), endpoint, TimeSpan.FromMinutes(10)),
            _ => "not-a-jwt",
        };

        var (status, body) = await RequestTokenAsync(harness, harness.Emulator.Options.TenantId, AssertionForm(harness, assertion));

        AssertEntraError(401, "invalid_client", 700027, status, body);
    }

    [Fact]
    public async Task The_openid_configuration_names_the_token_endpoint_issuer_and_authorization_endpoint()
    {
        await using var harness = await EmulatorHarness.StartAsync();
        var tenant = harness.Emulator.Options.TenantId;

        using var response = await harness.Http.GetAsync($"{tenant}/v2.0/.well-known/openid-configuration");

        var root = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal(harness.Emulator.TokenEndpoint.ToString(), root.GetProperty("token_endpoint").GetString());
        Assert.Equal($"{harness.Emulator.Environment}/{tenant}/v2.0", root.GetProperty("issuer").GetString());
        Assert.Equal($"{harness.Emulator.Environment}/{tenant}/oauth2/v2.0/authorize", root.GetProperty("authorization_endpoint").GetString());
    }

    private static Dictionary<string, string> SecretForm(EmulatorHarness harness) => new()
    {
        ["grant_type"] = "client_credentials",
        ["client_id"] = harness.Emulator.Options.ClientId,
        ["client_secret"] = harness.Emulator.Options.ClientSecret,
        ["scope"] = harness.Emulator.Environment + "/.default",
        ["client_info"] = "1",
    };

    private static Dictionary<string, string> AssertionForm(EmulatorHarness harness, string assertion) => new()
    {
        ["grant_type"] = "client_credentials",
        ["client_id"] = harness.Emulator.Options.ClientId,
        ["client_assertion_type"] = AssertionType,
        ["client_assertion"] = assertion,
        ["scope"] = harness.Emulator.Environment + "/.default",
    };

    private static async Task<(int Status, JsonDocument Body)> RequestTokenAsync(EmulatorHarness harness, string tenant, Dictionary<string, string> form)
    {
        using var client = harness.CreateClient(token: null);
        using var response = await client.PostAsync($"{tenant}/oauth2/v2.0/token", new FormUrlEncodedContent(form));
        return ((int)response.StatusCode, JsonDocument.Parse(await response.Content.ReadAsStringAsync()));
    }

    private static void AssertEntraError(int expectedStatus, string error, int code, int status, JsonDocument body)
    {
        Assert.Equal(expectedStatus, status);
        var root = body.RootElement;
        Assert.Equal(error, root.GetProperty("error").GetString());
        Assert.StartsWith($"AADSTS{code}: ", root.GetProperty("error_description").GetString());
        Assert.Equal(code, Assert.Single(root.GetProperty("error_codes").EnumerateArray()).GetInt32());
        foreach (var name in new[] { "timestamp", "trace_id", "correlation_id" })
            Assert.False(string.IsNullOrEmpty(root.GetProperty(name).GetString()));
    }

    private static List<string> PropertyNames(JsonElement element)
    {
        var names = new List<string>();
        foreach (var property in element.EnumerateObject())
            names.Add(property.Name);
        return names;
    }

    private static X509Certificate2 CreateClientCertificate()
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest("CN=RecurringIntegrations test client", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        return request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
    }

    private static X509Certificate2 PublicOnly(X509Certificate2 certificate) =>
        X509CertificateLoader.LoadCertificate(certificate.Export(X509ContentType.Cert));

    /// <summary>A client assertion as MSAL makes one: x5t#S256 header, iss = sub = client id, aud = token endpoint.</summary>
    private static string CreateAssertion(X509Certificate2 certificate, string algorithm, string clientId, string audience, TimeSpan lifetime, bool timesAsStrings = false)
    {
        var now = DateTimeOffset.UtcNow;
        var header = JsonSerializer.Serialize(new Dictionary<string, string>
        {
            ["alg"] = algorithm,
            ["typ"] = "JWT",
            ["x5t#S256"] = Base64Url.EncodeToString(certificate.GetCertHash(HashAlgorithmName.SHA256)),
        });
        var payload = JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["aud"] = audience,
            ["iss"] = clientId,
            ["sub"] = clientId,
            ["jti"] = Guid.NewGuid().ToString(),
            ["nbf"] = timesAsStrings ? now.AddMinutes(-5).ToUnixTimeSeconds().ToString() : now.AddMinutes(-5).ToUnixTimeSeconds(),
            ["exp"] = timesAsStrings ? (now + lifetime).ToUnixTimeSeconds().ToString() : (now + lifetime).ToUnixTimeSeconds(),
        });
        var signingInput = Base64Url.EncodeToString(Encoding.UTF8.GetBytes(header)) + "." + Base64Url.EncodeToString(Encoding.UTF8.GetBytes(payload));
        using var key = certificate.GetRSAPrivateKey()!;
        var padding = algorithm == "PS256" ? RSASignaturePadding.Pss : RSASignaturePadding.Pkcs1;
        var signature = key.SignData(Encoding.ASCII.GetBytes(signingInput), HashAlgorithmName.SHA256, padding);
        return signingInput + "." + Base64Url.EncodeToString(signature);
    }
}

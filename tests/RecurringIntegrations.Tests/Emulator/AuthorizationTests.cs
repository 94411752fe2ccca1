using System;
using System.Linq;
using System.Net;
using System.Net.Http;
using System.Threading.Tasks;
using RecurringIntegrations.Emulator;
using Xunit;

namespace RecurringIntegrations.Tests.Emulator;

public sealed class AuthorizationTests
{
    public static TheoryData<string, string> ProtectedEndpoints => new()
    {
        { "POST", $"/api/connector/enqueue/{WellKnown.ImportActivity}" },
        { "GET", $"/api/connector/dequeue/{WellKnown.ExportActivity}" },
        { "POST", $"/api/connector/ack/{WellKnown.ExportActivity}" },
        { "GET", $"/api/connector/download/%7B{WellKnown.ExportActivity}%7D?correlation-id={Guid.Empty}&blob={Guid.Empty}" },
        { "POST", EmulatorHarness.ActionPath + "GetMessageStatus" },
        { "POST", EmulatorHarness.ActionPath + "GetExecutionErrors" },
        { "GET", "/data/NoSuchThing" },
    };

    [Theory]
    [MemberData(nameof(ProtectedEndpoints))]
    public async Task Calls_without_a_token_are_401_with_an_empty_body_and_a_bearer_challenge(string method, string path)
    {
        await using var harness = await EmulatorHarness.StartAsync();
        using var client = harness.CreateClient(token: null);

        using var response = await client.SendAsync(new HttpRequestMessage(new HttpMethod(method), path) { Content = new ByteArrayContent([1]) });

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("Bearer", response.Headers.WwwAuthenticate.Single().Scheme);
        Assert.Empty(await response.Content.ReadAsByteArrayAsync());
        Assert.Empty(harness.Emulator.State.Enqueued);
    }

    [Fact]
    public async Task An_expired_token_is_401()
    {
        await using var harness = await EmulatorHarness.StartAsync();
        using var client = harness.CreateClient(harness.Emulator.IssueToken(harness.Emulator.Environment, TimeSpan.FromSeconds(-1)));

        using var response = await client.GetAsync($"api/connector/dequeue/{WellKnown.ExportActivity}");

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Theory]
    [InlineData("{0}/")]
    [InlineData("HTTPS://127.0.0.1:{1}")]
    [InlineData("https://localhost:{1}")]
    [InlineData("https://contoso.operations.dynamics.com")]
    public async Task A_token_for_any_other_audience_spelling_is_401(string audienceFormat)
    {
        await using var harness = await EmulatorHarness.StartAsync();
        var audience = string.Format(audienceFormat, harness.Emulator.Environment, harness.Emulator.BaseUri.Port);
        using var client = harness.CreateClient(harness.Emulator.IssueToken(audience));

        using var response = await client.GetAsync($"api/connector/dequeue/{WellKnown.ExportActivity}");

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Fact]
    public async Task A_token_from_another_emulator_is_401()
    {
        await using var harness = await EmulatorHarness.StartAsync();
        await using var other = await D365Emulator.StartAsync();
        using var client = harness.CreateClient(other.IssueToken(harness.Emulator.Environment));

        using var response = await client.GetAsync($"api/connector/dequeue/{WellKnown.ExportActivity}");

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Theory]
    [InlineData("garbage")]
    [InlineData("a.b.c")]
    public async Task A_malformed_token_is_401(string token)
    {
        await using var harness = await EmulatorHarness.StartAsync();
        using var client = harness.CreateClient(token);

        using var response = await client.GetAsync($"api/connector/dequeue/{WellKnown.ExportActivity}");

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Fact]
    public async Task Plain_http_serves_the_same_api()
    {
        await using var harness = await EmulatorHarness.StartAsync(o => o.UseHttps = false);

        using var response = await harness.Http.GetAsync($"api/connector/dequeue/{WellKnown.ExportActivity}");

        Assert.StartsWith("http://127.0.0.1:", harness.Emulator.Environment);
        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
    }
}

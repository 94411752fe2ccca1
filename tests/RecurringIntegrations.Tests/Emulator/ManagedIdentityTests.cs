using System;
using System.Net;
using System.Net.Http;
using System.Text.Json;
using System.Threading.Tasks;
using RecurringIntegrations.Emulator;
using Xunit;

namespace RecurringIntegrations.Tests.Emulator;

public sealed class ManagedIdentityTests
{
    [Theory]
    [InlineData("{0}")]
    [InlineData("{0}/")]
    [InlineData("{1}")]
    public async Task Managed_identity_answers_a_token_for_the_environment_however_the_resource_is_spelt(string resourceFormat)
    {
        await using var harness = await EmulatorHarness.StartAsync();
        var emulator = harness.Emulator;
        var resource = string.Format(resourceFormat, emulator.Environment, emulator.Environment.ToUpperInvariant());

        var (status, body) = await RequestAsync(harness, resource, emulator.Options.ManagedIdentityHeader);

        Assert.Equal(200, status);
        var root = body!.RootElement;
        Assert.Equal(JsonValueKind.String, root.GetProperty("expires_on").ValueKind);
        var expiresOn = DateTimeOffset.FromUnixTimeSeconds(long.Parse(root.GetProperty("expires_on").GetString()!));
        Assert.InRange(expiresOn, DateTimeOffset.UtcNow.AddMinutes(55), DateTimeOffset.UtcNow.AddMinutes(61));
        Assert.Equal(resource, root.GetProperty("resource").GetString());
        Assert.Equal("Bearer", root.GetProperty("token_type").GetString());
        Assert.Equal(emulator.Options.ClientId, root.GetProperty("client_id").GetString());
        Assert.Equal(1, emulator.State.TokenRequests);

        using var client = harness.CreateClient(root.GetProperty("access_token").GetString());
        using var dequeue = await client.GetAsync($"api/connector/dequeue/{WellKnown.ExportActivity}");
        Assert.Equal(HttpStatusCode.NoContent, dequeue.StatusCode);
    }

    [Fact]
    public async Task Managed_identity_echoes_a_user_assigned_client_id()
    {
        await using var harness = await EmulatorHarness.StartAsync();
        var userAssigned = Guid.NewGuid().ToString();

        var (status, body) = await RequestAsync(harness, harness.Emulator.Environment, harness.Emulator.Options.ManagedIdentityHeader, userAssigned);

        Assert.Equal(200, status);
        Assert.Equal(userAssigned, body!.RootElement.GetProperty("client_id").GetString());
    }

    [Theory]
    [InlineData(null)]
    [InlineData("wrong-header")]
    public async Task Managed_identity_without_the_right_identity_header_is_401(string? header)
    {
        await using var harness = await EmulatorHarness.StartAsync();

        var (status, _) = await RequestAsync(harness, harness.Emulator.Environment, header);

        Assert.Equal(401, status);
        Assert.Equal(0, harness.Emulator.State.TokenRequests);
    }

    private static async Task<(int Status, JsonDocument? Body)> RequestAsync(EmulatorHarness harness, string resource, string? header, string? clientId = null)
    {
        using var client = harness.CreateClient(token: null);
        var uri = $"{harness.Emulator.ManagedIdentityEndpoint}?resource={Uri.EscapeDataString(resource)}&api-version=2019-08-01";
        if (clientId is not null)
            uri += "&client_id=" + clientId;
        using var request = new HttpRequestMessage(HttpMethod.Get, uri);
        if (header is not null)
            request.Headers.Add("X-IDENTITY-HEADER", header);
        using var response = await client.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return ((int)response.StatusCode, text.Length > 0 ? JsonDocument.Parse(text) : null);
    }
}

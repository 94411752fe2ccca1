using System;
using System.Collections.Generic;
using System.Net.Http;
using System.Text.Json;
using System.Threading.Tasks;
using RecurringIntegrations.Emulator;
using Xunit;

namespace RecurringIntegrations.Tests.Emulator;

/// <summary>The emulator's device code grant and AD FS token endpoint on the wire.</summary>
public class SignInEndpointTests
{
    [Fact]
    public async Task Device_code_token_is_pending_until_approved_then_issued_with_a_refresh_token_that_works_once()
    {
        await using var harness = await EmulatorHarness.StartAsync();
        var options = harness.Emulator.Options;
        using var client = harness.CreateClient(token: null);
        var scope = $"{harness.Emulator.Environment}/.default openid profile offline_access";

        var code = await PostAsync(client, $"{options.TenantId}/oauth2/v2.0/devicecode", new() { ["client_id"] = options.ClientId, ["scope"] = scope });
        Assert.Equal(200, code.Status);
        var deviceCode = code.Body.RootElement.GetProperty("device_code").GetString()!;
        var userCode = code.Body.RootElement.GetProperty("user_code").GetString()!;
        Assert.Contains(userCode, code.Body.RootElement.GetProperty("message").GetString());
        var poll = new Dictionary<string, string> { ["grant_type"] = "urn:ietf:params:oauth:grant-type:device_code", ["client_id"] = options.ClientId, ["device_code"] = deviceCode };

        var pending = await PostAsync(client, $"{options.TenantId}/oauth2/v2.0/token", poll);
        Assert.Equal(400, pending.Status);
        Assert.Equal("authorization_pending", pending.Body.RootElement.GetProperty("error").GetString());

        using (var approve = await client.PostAsync($"emulator/devicecode/approve?user_code={userCode}", null))
            Assert.Equal(1, JsonDocument.Parse(await approve.Content.ReadAsStringAsync()).RootElement.GetProperty("approved").GetInt32());
        var issued = await PostAsync(client, $"{options.TenantId}/oauth2/v2.0/token", poll);
        Assert.Equal(200, issued.Status);
        var accessToken = issued.Body.RootElement.GetProperty("access_token").GetString()!;
        using (var api = harness.CreateClient(accessToken))
        using (var dequeue = await api.GetAsync($"api/connector/dequeue/{WellKnown.ExportActivity}"))
            Assert.True(dequeue.IsSuccessStatusCode);

        var refresh = new Dictionary<string, string> { ["grant_type"] = "refresh_token", ["client_id"] = options.ClientId, ["refresh_token"] = issued.Body.RootElement.GetProperty("refresh_token").GetString()!, ["scope"] = scope };
        Assert.Equal(200, (await PostAsync(client, $"{options.TenantId}/oauth2/v2.0/token", refresh)).Status);
        // Refresh tokens are rotated: the used one is refused, and so is a device code already redeemed.
        Assert.Equal("invalid_grant", (await PostAsync(client, $"{options.TenantId}/oauth2/v2.0/token", refresh)).Body.RootElement.GetProperty("error").GetString());
        Assert.Equal("expired_token", (await PostAsync(client, $"{options.TenantId}/oauth2/v2.0/token", poll)).Body.RootElement.GetProperty("error").GetString());
    }

    [Fact]
    public async Task Device_code_is_approved_by_itself_after_the_configured_delay()
    {
        await using var harness = await EmulatorHarness.StartAsync(o => o.DeviceCodeApprovalDelay = TimeSpan.Zero);
        var options = harness.Emulator.Options;
        using var client = harness.CreateClient(token: null);
        var code = await PostAsync(client, $"{options.TenantId}/oauth2/v2.0/devicecode", new() { ["client_id"] = options.ClientId, ["scope"] = $"{harness.Emulator.Environment}/.default" });

        var issued = await PostAsync(client, $"{options.TenantId}/oauth2/v2.0/token", new()
        {
            ["grant_type"] = "device_code", ["client_id"] = options.ClientId, ["device_code"] = code.Body.RootElement.GetProperty("device_code").GetString()!,
        });

        Assert.Equal(200, issued.Status);
        Assert.False(string.IsNullOrEmpty(issued.Body.RootElement.GetProperty("client_info").GetString()));
    }

    [Theory]
    [InlineData("resource")]
    [InlineData("scope")]
    public async Task Adfs_token_endpoint_takes_the_resource_either_way_and_refuses_a_wrong_secret(string how)
    {
        await using var harness = await EmulatorHarness.StartAsync();
        var options = harness.Emulator.Options;
        using var client = harness.CreateClient(token: null);
        var form = new Dictionary<string, string> { ["grant_type"] = "client_credentials", ["client_id"] = options.ClientId, ["client_secret"] = options.ClientSecret };
        form[how] = how == "scope" ? harness.Emulator.Environment + "/.default" : harness.Emulator.Environment.ToUpperInvariant() + "/";

        var issued = await PostAsync(client, "adfs/oauth2/token", form);
        form["client_secret"] = "wrong";
        var refused = await PostAsync(client, "adfs/oauth2/token", form);

        Assert.Equal(200, issued.Status);
        using (var api = harness.CreateClient(issued.Body.RootElement.GetProperty("access_token").GetString()))
        using (var dequeue = await api.GetAsync($"api/connector/dequeue/{WellKnown.ExportActivity}"))
            Assert.True(dequeue.IsSuccessStatusCode);
        Assert.Equal(401, refused.Status);
        Assert.Equal("invalid_client", refused.Body.RootElement.GetProperty("error").GetString());
        Assert.StartsWith("MSIS", refused.Body.RootElement.GetProperty("error_description").GetString());
    }

    private static async Task<(int Status, JsonDocument Body)> PostAsync(HttpClient client, string path, Dictionary<string, string> form)
    {
        using var response = await client.PostAsync(path, new FormUrlEncodedContent(form));
        return ((int)response.StatusCode, JsonDocument.Parse(await response.Content.ReadAsStringAsync()));
    }
}

using System;
using System.Collections.Generic;
using System.Linq;
using System.Net.Http;
using System.Text;
using System.Text.Json;
using System.Threading.Tasks;
using RecurringIntegrations.Emulator;
using Xunit;

namespace RecurringIntegrations.Tests.Emulator;

/// <summary>The emulator's on-premises mode: the whole API under /namespaces/AXSF, AD FS sign-in for the host.</summary>
public sealed class OnPremisesModeTests
{
    private static Task<EmulatorHarness> StartAsync() =>
        EmulatorHarness.StartAsync(o => o.BasePath = EmulatorOptions.OnPremisesPath);

    [Fact]
    public async Task The_api_answers_under_the_path_and_hands_out_download_locations_under_it()
    {
        await using var harness = await StartAsync();
        Assert.EndsWith("/namespaces/AXSF/", harness.Emulator.BaseUri.AbsoluteUri);

        var messageId = await harness.EnqueueAsync("<Document/>");
        Assert.Equal("Processed", await harness.WaitForTerminalStatusAsync(messageId));
        harness.Emulator.AddExportMessage(WellKnown.ExportActivity, "export.xml", Encoding.UTF8.GetBytes("<Export/>"));
        using var dequeue = await harness.Http.GetAsync($"api/connector/dequeue/{WellKnown.ExportActivity}");
        var body = await dequeue.Content.ReadAsStringAsync();
        var location = JsonDocument.Parse(body).RootElement.GetProperty("DownloadLocation").GetString()!;
        using var download = await harness.Http.GetAsync(location);
        using var ack = await harness.Http.PostAsync($"api/connector/ack/{WellKnown.ExportActivity}", new StringContent(body, Encoding.UTF8, "application/json"));
        using var entities = await harness.Http.GetAsync("Metadata/DataEntities");

        Assert.StartsWith(harness.Emulator.Environment + "/api/connector/download/", location);
        Assert.Equal("<Export/>", await download.Content.ReadAsStringAsync());
        Assert.True(ack.IsSuccessStatusCode);
        Assert.True(entities.IsSuccessStatusCode);
        Assert.Contains(harness.Emulator.Environment + "/Metadata/", await entities.Content.ReadAsStringAsync());
    }

    [Theory]
    [InlineData("POST", "/api/connector/enqueue/6ab0c2f1-3d1e-4c5f-9a11-0d2b7f3e1a01?entity=Customer%20groups")]
    [InlineData("GET", "/api/connector/dequeue/6ab0c2f1-3d1e-4c5f-9a11-0d2b7f3e1a02")]
    [InlineData("POST", "/data/DataManagementDefinitionGroups/Microsoft.Dynamics.DataEntities.GetMessageStatus")]
    [InlineData("GET", "/Metadata/DataEntities")]
    public async Task A_call_without_the_path_is_redirected_under_it_and_not_served(string method, string pathAndQuery)
    {
        await using var harness = await StartAsync();
        var root = new Uri(harness.Emulator.Audience);

        using var response = await harness.Http.SendAsync(new HttpRequestMessage(new HttpMethod(method), new Uri(root, pathAndQuery))
        {
            Content = method == "POST" ? new StringContent("{}", Encoding.UTF8, "application/json") : null,
        });

        Assert.Equal(302, (int)response.StatusCode);
        Assert.Equal(harness.Emulator.Environment + pathAndQuery, response.Headers.Location!.AbsoluteUri);
        Assert.Empty(harness.Emulator.State.Enqueued);
    }

    [Fact]
    public async Task The_adfs_token_endpoint_issues_a_token_for_the_host_that_the_api_under_the_path_accepts()
    {
        await using var harness = await StartAsync();
        var options = harness.Emulator.Options;
        using var client = harness.CreateClient(null);
        using var tokenResponse = await client.PostAsync(new Uri(harness.Emulator.AuthorityHost.AbsoluteUri + "/oauth2/token"), new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "client_credentials", ["client_id"] = options.ClientId, ["client_secret"] = options.ClientSecret,
            ["resource"] = harness.Emulator.Audience,
        }));
        var token = JsonDocument.Parse(await tokenResponse.Content.ReadAsStringAsync()).RootElement.GetProperty("access_token").GetString();

        using var api = harness.CreateClient(token);
        using var dequeue = await api.GetAsync($"api/connector/dequeue/{WellKnown.ExportActivity}");

        Assert.Equal("/adfs/oauth2/token", tokenResponse.RequestMessage!.RequestUri!.AbsolutePath);
        Assert.Equal(204, (int)dequeue.StatusCode);
    }
}

using System;
using System.Net.Http;
using System.Net.Http.Headers;
using System.Net.Security;
using System.Text;
using System.Text.Json;
using System.Threading.Tasks;
using RecurringIntegrations.Emulator;

namespace RecurringIntegrations.Tests.Emulator;

/// <summary>One emulator on a real loopback socket and a plain HttpClient that trusts only its certificate.</summary>
internal sealed class EmulatorHarness : IAsyncDisposable
{
    public const string ActionPath = "/data/DataManagementDefinitionGroups/Microsoft.Dynamics.DataEntities.";

    private EmulatorHarness(D365Emulator emulator)
    {
        Emulator = emulator;
        Http = CreateClient(emulator.IssueToken(emulator.Audience));
    }

    public D365Emulator Emulator { get; }

    /// <summary>A client carrying a valid token for the environment.</summary>
    public HttpClient Http { get; }

    public static async Task<EmulatorHarness> StartAsync(Action<EmulatorOptions>? configure = null)
    {
        var options = new EmulatorOptions { ProcessingDelay = TimeSpan.FromMilliseconds(400) };
        configure?.Invoke(options);
        return await StartAsync(options);
    }

    /// <summary>An emulator with exactly these options.</summary>
    public static async Task<EmulatorHarness> StartAsync(EmulatorOptions options) =>
        new(await D365Emulator.StartAsync(options));

    /// <summary>A client with the given bearer token, or none.</summary>
    public HttpClient CreateClient(string? token)
    {
        var thumbprint = Emulator.ServerCertificate.Thumbprint;
        // Redirects are the client's to follow or not (Microsoft's scheduler does not), so tests see them.
        var handler = new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            SslOptions = new SslClientAuthenticationOptions
            {
                RemoteCertificateValidationCallback = (_, certificate, _, _) => certificate?.GetCertHashString() == thumbprint,
            },
        };
        var client = new HttpClient(handler) { BaseAddress = Emulator.BaseUri };
        if (token is not null)
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return client;
    }

    public async Task<Guid> EnqueueAsync(string content, string entity = "Customer groups")
    {
        using var response = await Http.PostAsync(
            $"api/connector/enqueue/{WellKnown.ImportActivity}?entity={Uri.EscapeDataString(entity)}",
            new ByteArrayContent(Encoding.UTF8.GetBytes(content)));
        response.EnsureSuccessStatusCode();
        return JsonSerializer.Deserialize<Guid>(await response.Content.ReadAsStringAsync());
    }

    /// <summary>Posts an OData action and returns the status and the raw body.</summary>
    public async Task<(int Status, string Body)> ActionAsync(string action, string jsonBody)
    {
        // Relative to the environment's root, which on-premises has a path.
        using var response = await Http.PostAsync(ActionPath.TrimStart('/') + action, new StringContent(jsonBody, Encoding.UTF8, "application/json"));
        return ((int)response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    /// <summary>The "value" of an OData action that must succeed.</summary>
    public async Task<string> ActionValueAsync(string action, string jsonBody)
    {
        var (status, body) = await ActionAsync(action, jsonBody);
        if (status != 200)
            throw new InvalidOperationException($"{action} answered {status}: {body}");
        using var document = JsonDocument.Parse(body);
        return document.RootElement.GetProperty("value").GetString()!;
    }

    public Task<string> StatusOfAsync(Guid messageId) =>
        ActionValueAsync("GetMessageStatus", $"{{\"messageId\":\"{messageId}\"}}");

    /// <summary>Polls the status until it is no longer transient, within a deadline.</summary>
    public async Task<string> WaitForTerminalStatusAsync(Guid messageId)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (true)
        {
            var status = await StatusOfAsync(messageId);
            if (status is not ("Enqueued" or "Processing" or "Preprocessing") || DateTime.UtcNow > deadline)
                return status;
            await Task.Delay(50);
        }
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await Emulator.DisposeAsync();
    }
}

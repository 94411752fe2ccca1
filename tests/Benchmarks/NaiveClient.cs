using System;
using System.Collections.Generic;
using System.IO;
using System.Net;
using System.Net.Http;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;

namespace RecurringIntegrations.Benchmarks;

/// <summary>
/// The baseline: what a quick script does. Every API call makes a new HttpClient (a new connection and TLS handshake)
/// and asks the token endpoint for a new token with a plain POST; files go through memory as whole byte arrays.
/// </summary>
internal sealed class NaiveClient
{
    private readonly EmulatorProcess _emulator;
    private int _tokenRequests;

    public NaiveClient(EmulatorProcess emulator) => _emulator = emulator;

    public int TokenRequests => _tokenRequests;

    public async Task EnqueueAsync(string path, CancellationToken cancellationToken)
    {
        using var http = NewClient();
        var token = await GetTokenAsync(http, cancellationToken);
        var uri = $"{_emulator.Environment}/api/connector/enqueue/{_emulator.ImportActivity}?entity=Benchmark";
        using var request = new HttpRequestMessage(HttpMethod.Post, uri) { Content = new ByteArrayContent(File.ReadAllBytes(path)) };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        request.Headers.Add("x-ms-dyn-externalidentifier", Path.GetFileName(path));
        using var response = await http.SendAsync(request, cancellationToken);
        response.EnsureSuccessStatusCode();
        await response.Content.ReadAsStringAsync(cancellationToken);
    }

    /// <summary>Dequeue, download, save, ack: three calls, each with its own client and token. False when the queue is empty.</summary>
    public async Task<bool> DrainOneAsync(string outputFolder, CancellationToken cancellationToken)
    {
        string dequeueBody;
        using (var http = NewClient())
        {
            var token = await GetTokenAsync(http, cancellationToken);
            using var request = new HttpRequestMessage(HttpMethod.Get, $"{_emulator.Environment}/api/connector/dequeue/{_emulator.ExportActivity}");
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            using var response = await http.SendAsync(request, cancellationToken);
            response.EnsureSuccessStatusCode();
            if (response.StatusCode == HttpStatusCode.NoContent) return false;
            dequeueBody = await response.Content.ReadAsStringAsync(cancellationToken);
        }
        string correlationId, downloadLocation;
        using (var document = JsonDocument.Parse(dequeueBody))
        {
            correlationId = document.RootElement.GetProperty("CorrelationId").GetString()!;
            downloadLocation = document.RootElement.GetProperty("DownloadLocation").GetString()!;
        }

        using (var http = NewClient())
        {
            var token = await GetTokenAsync(http, cancellationToken);
            using var request = new HttpRequestMessage(HttpMethod.Get, downloadLocation);
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            using var response = await http.SendAsync(request, cancellationToken);
            response.EnsureSuccessStatusCode();
            File.WriteAllBytes(Path.Combine(outputFolder, correlationId + ".dat"), await response.Content.ReadAsByteArrayAsync(cancellationToken));
        }

        using (var http = NewClient())
        {
            var token = await GetTokenAsync(http, cancellationToken);
            using var request = new HttpRequestMessage(HttpMethod.Post, $"{_emulator.Environment}/api/connector/ack/{_emulator.ExportActivity}")
            {
                Content = new StringContent(dequeueBody, Encoding.UTF8, "application/json"),
            };
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            using var response = await http.SendAsync(request, cancellationToken);
            response.EnsureSuccessStatusCode();
        }
        return true;
    }

    private static HttpClient NewClient() =>
        new(new HttpClientHandler { ServerCertificateCustomValidationCallback = (_, _, _, _) => true });

    private async Task<string> GetTokenAsync(HttpClient http, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _tokenRequests);
        using var form = new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "client_credentials",
            ["client_id"] = _emulator.ClientId,
            ["client_secret"] = _emulator.ClientSecret,
            ["scope"] = _emulator.Environment + "/.default",
        });
        using var response = await http.PostAsync(_emulator.TokenEndpoint, form, cancellationToken);
        response.EnsureSuccessStatusCode();
        using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync(cancellationToken));
        return document.RootElement.GetProperty("access_token").GetString()!;
    }
}

using System;
using System.Diagnostics;
using System.Linq;
using System.Net;
using System.Net.Http;
using System.Text.Json;
using System.Threading.Tasks;
using RecurringIntegrations.Emulator;
using Xunit;

namespace RecurringIntegrations.Tests.Emulator;

public sealed class FaultInjectionTests
{
    private static readonly string EnqueuePath = $"api/connector/enqueue/{WellKnown.ImportActivity}";
    private static readonly string DequeuePath = $"api/connector/dequeue/{WellKnown.ExportActivity}";

    [Theory]
    [InlineData(500)]
    [InlineData(503)]
    public async Task A_server_error_fault_answers_the_odata_error_body_then_lets_the_next_request_through(int statusCode)
    {
        await using var harness = await EmulatorHarness.StartAsync();
        harness.Emulator.Faults.Add(new FaultRule { PathContains = "/api/connector/dequeue", Kind = FaultKind.Status, StatusCode = statusCode });

        using var faulted = await harness.Http.GetAsync(DequeuePath);
        using var next = await harness.Http.GetAsync(DequeuePath);

        Assert.Equal(statusCode, (int)faulted.StatusCode);
        using var error = JsonDocument.Parse(await faulted.Content.ReadAsStringAsync());
        Assert.Equal("An error has occurred.", error.RootElement.GetProperty("error").GetProperty("message").GetString());
        Assert.Equal(HttpStatusCode.NoContent, next.StatusCode);
        Assert.Equal(1, harness.Emulator.Faults.Hits);
    }

    [Theory]
    [InlineData(null, "1")]
    [InlineData("7", "7")]
    [InlineData("Wed, 21 Oct 2037 07:28:00 GMT", "Wed, 21 Oct 2037 07:28:00 GMT")]
    public async Task A_429_fault_carries_Retry_After(string? retryAfter, string expected)
    {
        await using var harness = await EmulatorHarness.StartAsync();
        harness.Emulator.Faults.Add(new FaultRule { Kind = FaultKind.Status, StatusCode = 429, RetryAfter = retryAfter });

        using var response = await harness.Http.GetAsync(DequeuePath);

        Assert.Equal(HttpStatusCode.TooManyRequests, response.StatusCode);
        Assert.Equal(expected, response.Headers.GetValues("Retry-After").Single());
    }

    [Fact]
    public async Task The_stats_count_the_429s_and_the_most_that_one_upload_got_by_its_external_identifier()
    {
        await using var harness = await EmulatorHarness.StartAsync();
        // The first three uploads are refused: a.csv twice (it went again), b.csv once; then both go through.
        harness.Emulator.Faults.Add(new FaultRule { PathContains = "/api/connector/enqueue", Kind = FaultKind.Status, StatusCode = 429, Times = 3 });
        foreach (var name in new[] { "a.csv", "b.csv", "a.csv", "a.csv", "b.csv" })
        {
            using var upload = new HttpRequestMessage(HttpMethod.Post, EnqueuePath) { Content = new ByteArrayContent([1]) };
            upload.Headers.Add("x-ms-dyn-externalidentifier", name);
            using var _ = await harness.Http.SendAsync(upload);
        }

        using var stats = JsonDocument.Parse(await harness.Http.GetStringAsync("emulator/stats"));
        Assert.Equal(5, stats.RootElement.GetProperty("calls").GetInt32());
        Assert.Equal(3, stats.RootElement.GetProperty("throttled").GetInt32());
        Assert.Equal(2, stats.RootElement.GetProperty("mostThrottledOfOne").GetInt32());
        Assert.Equal("a.csv", harness.Emulator.State.Requests[0].ExternalIdentifier);

        // Since a moment: only the calls answered from then on (here the last two, both through).
        var since = harness.Emulator.State.Requests[3].At.UtcDateTime.ToString("o", System.Globalization.CultureInfo.InvariantCulture);
        using var phase = JsonDocument.Parse(await harness.Http.GetStringAsync("emulator/stats?since=" + Uri.EscapeDataString(since)));
        Assert.Equal(2, phase.RootElement.GetProperty("calls").GetInt32());
        Assert.Equal(0, phase.RootElement.GetProperty("throttled").GetInt32());
        Assert.Equal(0, phase.RootElement.GetProperty("mostThrottledOfOne").GetInt32());
        using var bad = await harness.Http.GetAsync("emulator/stats?since=yesterday");
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Contains("ISO 8601", await bad.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task A_rule_skips_its_first_matches_hits_its_times_and_ignores_other_methods_and_paths()
    {
        await using var harness = await EmulatorHarness.StartAsync();
        harness.Emulator.Faults.Add(new FaultRule { Method = "GET", PathContains = "/dequeue/", Kind = FaultKind.Status, StatusCode = 503, SkipFirst = 1, Times = 2 });

        var statuses = new int[5];
        for (var i = 0; i < statuses.Length; i++)
        {
            using var response = await harness.Http.GetAsync(DequeuePath);
            statuses[i] = (int)response.StatusCode;
        }
        using var enqueue = await harness.Http.PostAsync(EnqueuePath, new ByteArrayContent([1]));

        Assert.Equal([204, 503, 503, 204, 204], statuses);
        Assert.Equal(HttpStatusCode.OK, enqueue.StatusCode);
    }

    [Fact]
    public async Task A_reset_aborts_the_connection_before_the_body_and_nothing_is_stored()
    {
        await using var harness = await EmulatorHarness.StartAsync();
        harness.Emulator.Faults.Add(new FaultRule { PathContains = "/api/connector/enqueue", Kind = FaultKind.Reset });

        await Assert.ThrowsAsync<HttpRequestException>(() => harness.Http.PostAsync(EnqueuePath, new ByteArrayContent(new byte[100_000])));

        Assert.Empty(harness.Emulator.State.Enqueued);
        var record = Assert.Single(harness.Emulator.State.Requests);
        Assert.Equal((0, FaultKind.Reset), (record.StatusCode, record.Fault));
    }

    [Fact]
    public async Task A_reset_after_body_stores_the_message_but_the_answer_is_lost()
    {
        await using var harness = await EmulatorHarness.StartAsync();
        harness.Emulator.Faults.Add(new FaultRule { PathContains = "/api/connector/enqueue", Kind = FaultKind.ResetAfterBody });

        await Assert.ThrowsAsync<HttpRequestException>(() => harness.Http.PostAsync(EnqueuePath, new ByteArrayContent([1, 2, 3])));

        Assert.Equal(3, Assert.Single(harness.Emulator.State.Enqueued).Length);
    }

    [Fact]
    public async Task A_delay_fault_waits_then_serves_normally()
    {
        await using var harness = await EmulatorHarness.StartAsync();
        harness.Emulator.Faults.Add(new FaultRule { Kind = FaultKind.Delay, Delay = TimeSpan.FromMilliseconds(300) });

        var clock = Stopwatch.StartNew();
        using var response = await harness.Http.GetAsync(DequeuePath);

        Assert.True(clock.Elapsed >= TimeSpan.FromMilliseconds(290), clock.Elapsed.ToString());
        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        // The stats count the wait as measured, so a benchmark's floor uses the latency really added.
        using var stats = JsonDocument.Parse(await harness.Http.GetStringAsync("emulator/stats"));
        Assert.Equal(1, stats.RootElement.GetProperty("delays").GetInt32());
        var delayedMs = stats.RootElement.GetProperty("delayedMs").GetDouble();
        Assert.InRange(delayedMs, 290, clock.Elapsed.TotalMilliseconds);

        harness.Emulator.Faults.Clear();
        Assert.Equal((0, TimeSpan.Zero), harness.Emulator.Faults.Delays);
    }

    [Fact]
    public async Task An_html_page_fault_answers_a_200_sign_in_page()
    {
        await using var harness = await EmulatorHarness.StartAsync();
        harness.Emulator.Faults.Add(new FaultRule { PathContains = "GetMessageStatus", Kind = FaultKind.HtmlPage });

        var (status, body) = await harness.ActionAsync("GetMessageStatus", "{\"messageId\":\"6d31e09f-0249-459f-94f0-aad9c2c47b64\"}");

        Assert.Equal(200, status);
        Assert.StartsWith("<!DOCTYPE html>", body);
    }

    [Fact]
    public async Task A_malformed_json_fault_answers_a_truncated_json_body()
    {
        await using var harness = await EmulatorHarness.StartAsync();
        harness.Emulator.Faults.Add(new FaultRule { PathContains = "/oauth2/", Kind = FaultKind.MalformedJson });
        using var client = harness.CreateClient(token: null);

        using var response = await client.PostAsync($"{harness.Emulator.Options.TenantId}/oauth2/v2.0/token", new StringContent(""));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType!.MediaType);
        var body = await response.Content.ReadAsStringAsync();
        Assert.ThrowsAny<JsonException>(() => JsonDocument.Parse(body));
    }

    [Fact]
    public async Task A_probability_rule_hits_a_repeatable_share_of_requests()
    {
        await using var harness = await EmulatorHarness.StartAsync();
        harness.Emulator.Faults.Seed = 42;
        harness.Emulator.Faults.Add(new FaultRule { Kind = FaultKind.Status, StatusCode = 503, Times = -1, Probability = 0.3 });

        var failures = 0;
        for (var i = 0; i < 100; i++)
        {
            using var response = await harness.Http.GetAsync(DequeuePath);
            failures += response.StatusCode == HttpStatusCode.ServiceUnavailable ? 1 : 0;
        }

        Assert.InRange(failures, 15, 45);
        Assert.Equal(failures, harness.Emulator.Faults.Hits);
    }

    [Fact]
    public async Task Clear_removes_every_rule()
    {
        await using var harness = await EmulatorHarness.StartAsync();
        harness.Emulator.Faults.Add(new FaultRule { Kind = FaultKind.Status, Times = -1 });

        harness.Emulator.Faults.Clear();
        using var response = await harness.Http.GetAsync(DequeuePath);

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
    }

    [Fact]
    public async Task Every_request_is_recorded_with_method_host_raw_path_authorization_and_status()
    {
        await using var harness = await EmulatorHarness.StartAsync();
        using var anonymous = harness.CreateClient(token: null);

        using var authorized = await harness.Http.GetAsync($"api/connector/dequeue/%7B{WellKnown.ExportActivity}%7D");
        using var unauthorized = await anonymous.GetAsync(DequeuePath);

        var records = harness.Emulator.State.Requests;
        Assert.Equal(2, records.Count);
        var first = records.Single(r => r.HadAuthorization);
        Assert.Equal(("GET", $"127.0.0.1:{harness.Emulator.BaseUri.Port}", $"/api/connector/dequeue/%7B{WellKnown.ExportActivity}%7D", 204, (FaultKind?)null),
            (first.Method, first.Host, first.PathAndQuery, first.StatusCode, first.Fault));
        Assert.Equal(401, records.Single(r => !r.HadAuthorization).StatusCode);
    }
}
